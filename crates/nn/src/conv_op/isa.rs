//! The x86 vector instruction sets the output-channel-lanes kernels ([`super::lanes`],
//! [`super::lanes_weight`]) are written for, and which one this CPU runs.
//!
//! Both compute each output element with the same fused multiply-adds in the same
//! order, so their results are equal bit for bit: AVX-512 holds a tile's 32 channels in
//! two 16-lane vectors, AVX2 in two halves of two 8-lane vectors each (the 16 vector
//! registers of AVX2 hold half the tile's accumulators of AVX-512's 32).

/// A vector instruction set of the lanes kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Isa {
    /// AVX-512F.
    Avx512,
    /// AVX2 with FMA (x86-64-v3: Haswell and later, every AMD Zen).
    Avx2,
}

impl Isa {
    /// The widest this CPU runs, if any (the detection is cached by the standard
    /// library).
    pub(super) fn best() -> Option<Self> {
        if std::arch::is_x86_feature_detected!("avx512f") {
            Some(Self::Avx512)
        } else if Self::Avx2.runs() {
            Some(Self::Avx2)
        } else {
            None
        }
    }

    /// Whether this CPU runs it.
    pub(super) fn runs(self) -> bool {
        match self {
            Self::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            Self::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
        }
    }

    /// Every one this CPU runs, widest first: the kernel tests run each.
    #[cfg(test)]
    pub(super) fn supported() -> Vec<Self> {
        [Self::Avx512, Self::Avx2]
            .into_iter()
            .filter(|i| i.runs())
            .collect()
    }
}

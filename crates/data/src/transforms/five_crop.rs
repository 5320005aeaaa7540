//! `FiveCrop` and `TenCrop`: the corner and centre crops of an image, stacked along a
//! new first axis (`[5, C, h, w]`, `[10, C, h, w]`) for test-time averaging.
//!
//! torchvision returns a tuple of crops, which its docs stack with a `Lambda`
//! (`torch.stack([ToTensor()(crop) for crop in crops])`) and average after the model
//! (`model(x.view(-1, c, h, w)).view(bs, ncrops, -1).mean(1)`). wick does both: these
//! transforms take a tensor (after `ToTensor`) and give the stack, and a batch of
//! stacks `[B, n, C, h, w]` is run as `B·n` samples whose outputs are averaged over
//! each sample's crops.

use super::common::Size;
use super::functional::{center_crop, crop, dims, hflip, vflip};
use super::{Kind, Transform};
use crate::{Array, Error, Input, Result};
use serde::{Deserialize, Serialize};
use wick_tensor::SeedRng;

/// Arguments of `torchvision.transforms.FiveCrop(size)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FiveCropConfig {
    /// `s` (square) or `[h, w]`.
    pub size: Size,
}

impl FiveCropConfig {
    /// Validates and builds.
    pub fn build(&self) -> Result<NCrop> {
        let (h, w) = self.size.hw("size")?;
        Ok(NCrop { h, w, flip: None })
    }
}

/// Arguments of `torchvision.transforms.TenCrop(size, vertical_flip=False)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenCropConfig {
    /// `s` (square) or `[h, w]`.
    pub size: Size,
    /// Flip top and bottom for the second five, instead of left and right.
    #[serde(default)]
    pub vertical_flip: bool,
}

impl TenCropConfig {
    /// Validates and builds.
    pub fn build(&self) -> Result<NCrop> {
        let (h, w) = self.size.hw("size")?;
        Ok(NCrop {
            h,
            w,
            flip: Some(self.vertical_flip),
        })
    }
}

/// `FiveCrop` (no `flip`) or `TenCrop` (`flip`: whether vertical): top-left,
/// top-right, bottom-left, bottom-right and centre crops of `h × w` (torchvision's
/// `five_crop` order), then for `TenCrop` the same five of the flipped image.
pub struct NCrop {
    h: usize,
    w: usize,
    flip: Option<bool>,
}

impl NCrop {
    fn name(&self) -> &'static str {
        if self.flip.is_some() {
            "TenCrop"
        } else {
            "FiveCrop"
        }
    }

    fn count(&self) -> usize {
        if self.flip.is_some() {
            10
        } else {
            5
        }
    }

    /// An error unless the crop fits an `ih × iw` input (torchvision's message).
    fn fits(&self, ih: usize, iw: usize) -> Result<()> {
        let (h, w) = (self.h, self.w);
        if h > ih || w > iw {
            return Err(Error::Transform(format!(
                "{}: requested crop size ({h}, {w}) is bigger than input size ({ih}, {iw})",
                self.name()
            )));
        }
        Ok(())
    }

    /// torchvision's `five_crop` of `input`, in its order.
    fn five(&self, input: &Input) -> Result<Vec<Input>> {
        let (ih, iw) = dims(input)?;
        let (h, w) = (self.h, self.w);
        self.fits(ih, iw)?;
        let (b, r) = ((ih - h) as i64, (iw - w) as i64);
        Ok(vec![
            crop(input.clone(), 0, 0, h, w)?,
            crop(input.clone(), 0, r, h, w)?,
            crop(input.clone(), b, 0, h, w)?,
            crop(input.clone(), b, r, h, w)?,
            center_crop(input.clone(), h, w)?,
        ])
    }
}

impl Transform for NCrop {
    fn resizes(&self) -> bool {
        true
    }

    fn apply(&self, input: Input, _rng: &mut SeedRng) -> Result<Input> {
        let Input::Array(a) = &input else {
            return Err(Error::Transform(format!(
                "{} stacks its crops into one tensor: put ToTensor before it",
                self.name()
            )));
        };
        let shape = self.output_shape(&a.shape)?;
        let mut crops = self.five(&input)?;
        if let Some(vertical) = self.flip {
            let flipped = if vertical {
                vflip(input)?
            } else {
                hflip(input)?
            };
            crops.extend(self.five(&flipped)?);
        }
        let mut data = Vec::with_capacity(shape.iter().product());
        for c in crops {
            let Input::Array(c) = c else {
                unreachable!("the crops of a tensor are tensors")
            };
            data.extend_from_slice(&c.data);
        }
        Ok(Input::Array(Array { shape, data }))
    }

    fn output_kind(&self, input: Kind) -> Result<Kind> {
        match input {
            Kind::Tensor => Ok(Kind::Tensor),
            Kind::Image => Err(super::needs_tensor(self.name())),
        }
    }

    /// `[n, ..., h, w]` for a tensor `[..., H, W]`.
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let mut s = super::center_crop::with_hw(input, self.h, self.w, self.name())?;
        let n = input.len();
        self.fits(input[n - 2], input[n - 1])?;
        s.insert(0, self.count());
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `[1, 4, 5]` tensor whose values are their own flat positions.
    fn ramp() -> Input {
        Input::Array(Array {
            shape: vec![1, 4, 5],
            data: (0..20).map(|v| v as f32).collect(),
        })
    }

    fn crops(t: &NCrop) -> (Vec<usize>, Vec<f32>) {
        match t.apply(ramp(), &mut SeedRng::new(0)).unwrap() {
            Input::Array(a) => (a.shape, a.data),
            Input::Image(_) => panic!("an image"),
        }
    }

    #[test]
    fn five_crop_order_and_values_are_torchvisions() {
        let t = FiveCropConfig {
            size: Size::Seq(vec![2, 3]),
        }
        .build()
        .unwrap();
        let (shape, v) = crops(&t);
        assert_eq!(shape, vec![5, 1, 2, 3]);
        // torch.arange(20.).view(1, 4, 5) through F.five_crop(x, [2, 3])
        #[rustfmt::skip]
        let want = [
            0., 1., 2., 5., 6., 7.,        // top-left
            2., 3., 4., 7., 8., 9.,        // top-right
            10., 11., 12., 15., 16., 17.,  // bottom-left
            12., 13., 14., 17., 18., 19.,  // bottom-right
            6., 7., 8., 11., 12., 13.,     // centre (top 1, left 1)
        ];
        assert_eq!(v, want);
    }

    #[test]
    fn ten_crop_adds_the_flipped_five() {
        let t = TenCropConfig {
            size: Size::Seq(vec![2, 3]),
            vertical_flip: false,
        }
        .build()
        .unwrap();
        let (shape, v) = crops(&t);
        assert_eq!(shape, vec![10, 1, 2, 3]);
        // the flipped image's top-left crop: rows 0-1 of each row reversed
        assert_eq!(&v[30..36], &[4., 3., 2., 9., 8., 7.]);
        let t = TenCropConfig {
            size: Size::Seq(vec![2, 3]),
            vertical_flip: true,
        }
        .build()
        .unwrap();
        let (_, v) = crops(&t);
        assert_eq!(&v[30..36], &[15., 16., 17., 10., 11., 12.]);
    }

    #[test]
    fn images_and_oversized_crops_are_errors() {
        let t = FiveCropConfig { size: Size::Int(5) }.build().unwrap();
        let e = t
            .apply(ramp(), &mut SeedRng::new(0))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("requested crop size (5, 5) is bigger than input size (4, 5)"),
            "{e}"
        );
        assert!(t.output_shape(&[1, 4, 5]).is_err());
        assert!(t.output_kind(Kind::Image).is_err());
        let img = Input::Image(crate::Image {
            height: 6,
            width: 6,
            channels: 1,
            data: vec![0; 36],
        });
        let e = t.apply(img, &mut SeedRng::new(0)).unwrap_err().to_string();
        assert!(e.contains("put ToTensor before it"), "{e}");
    }
}

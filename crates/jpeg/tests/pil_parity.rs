//! Decoding against PIL (fixtures from `scripts/fixtures_decode.py`: synthetic JPEGs
//! that PIL encoded with every subsampling, progressive, restart markers, grey, and
//! PIL's decoded pixels), whole and by region, and damaged files.

use candle_core::Tensor;
use std::collections::HashMap;
use wick_jpeg::{decode, is_jpeg, read_header, Pixels, Region};
use wick_tensor::testing::load_fixture;

const CASES: &[&str] = &[
    "s420",
    "s422",
    "s444",
    "prog420",
    "restart420",
    "gray",
    "q50_420",
];

fn case(fx: &HashMap<String, Tensor>, name: &str) -> (Vec<u8>, Pixels) {
    let bytes: Vec<u8> = fx[&format!("{name}.jpeg")].to_vec1().unwrap();
    let rgb = &fx[&format!("{name}.rgb")];
    let (h, w, _) = rgb.dims3().unwrap();
    let data = rgb.flatten_all().unwrap().to_vec1().unwrap();
    let want = Pixels {
        height: h,
        width: w,
        channels: 3,
        data,
    };
    (bytes, want)
}

fn crop(p: &Pixels, r: Region) -> Vec<u8> {
    let mut out = Vec::new();
    for y in r.top..r.top + r.height {
        let o = (y * p.width + r.left) * p.channels;
        out.extend_from_slice(&p.data[o..o + r.width * p.channels]);
    }
    out
}

#[test]
fn whole_images_are_pils_pixels_exactly() {
    let fx = load_fixture("decode.safetensors");
    for name in CASES {
        let (bytes, want) = case(&fx, name);
        assert!(is_jpeg(&bytes));
        let h = read_header(&bytes).unwrap();
        assert_eq!((h.height, h.width), (want.height, want.width), "{name}");
        assert_eq!(h.gray, *name == "gray", "{name}");
        let got = decode(&bytes, None, false).unwrap().unwrap();
        assert!(got == want, "{name}: pixels differ from PIL's");
    }
}

#[test]
fn grey_jpegs_keep_one_channel_when_asked() {
    let fx = load_fixture("decode.safetensors");
    let (bytes, rgb) = case(&fx, "gray");
    let g = decode(&bytes, None, true).unwrap().unwrap();
    assert_eq!(g.channels, 1);
    let replicated: Vec<u8> = g.data.iter().flat_map(|&v| [v, v, v]).collect();
    assert_eq!(replicated, rgb.data);
    // colour JPEGs stay RGB
    let (bytes, _) = case(&fx, "s420");
    assert_eq!(decode(&bytes, None, true).unwrap().unwrap().channels, 3);
}

/// Every region edge position near the iMCU boundaries, and random boxes: the
/// region's pixels are the whole decode's.
#[test]
fn regions_are_the_whole_decode_cropped() {
    let fx = load_fixture("decode.safetensors");
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    for name in CASES {
        let (bytes, want) = case(&fx, name);
        let (h, w) = (want.height, want.width);
        let mut boxes = Vec::new();
        for a in [0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33] {
            for b in [1, 2, 8, 15, 16, 17, 33] {
                if a + b <= h.min(w) {
                    boxes.push(Region {
                        top: a,
                        left: a,
                        height: b,
                        width: b,
                    });
                    boxes.push(Region {
                        top: a,
                        left: 0,
                        height: b,
                        width: w,
                    });
                    boxes.push(Region {
                        top: 0,
                        left: a,
                        height: h,
                        width: b,
                    });
                }
            }
        }
        for _ in 0..200 {
            let (top, left) = (next(h), next(w));
            let (height, width) = (1 + next(h - top), 1 + next(w - left));
            boxes.push(Region {
                top,
                left,
                height,
                width,
            });
        }
        boxes.push(Region {
            top: h - 1,
            left: w - 1,
            height: 1,
            width: 1,
        });
        for r in boxes {
            let got = decode(&bytes, Some(r), false).unwrap().unwrap();
            assert_eq!(
                (got.height, got.width, got.channels),
                (r.height, r.width, 3)
            );
            assert!(got.data == crop(&want, r), "{name}: region {r:?}");
        }
    }
}

#[test]
fn regions_outside_the_image_are_errors() {
    let fx = load_fixture("decode.safetensors");
    let (bytes, want) = case(&fx, "s420");
    for r in [
        Region {
            top: 0,
            left: 0,
            height: want.height + 1,
            width: 1,
        },
        Region {
            top: 0,
            left: want.width,
            height: 1,
            width: 1,
        },
        Region {
            top: 3,
            left: 3,
            height: 0,
            width: 5,
        },
    ] {
        let e = decode(&bytes, Some(r), false).unwrap_err();
        assert!(e.0.contains("not inside"), "{e}");
    }
}

#[test]
fn damaged_files_are_errors_not_crashes() {
    let fx = load_fixture("decode.safetensors");
    let (bytes, _) = case(&fx, "s420");
    // empty, not a JPEG, cut in the header, cut in the data (PIL: "image file is
    // truncated"), the middle of the data overwritten
    assert!(decode(&[], None, false).is_err());
    assert!(read_header(b"GIF89a....").is_err());
    assert!(decode(&bytes[..40], None, false).is_err());
    let e = decode(&bytes[..bytes.len() / 2], None, false).unwrap_err();
    assert!(e.0.contains("truncated"), "{e}");
    for seed in 0..64usize {
        let mut bad = bytes.clone();
        for k in 0..8 {
            let i = 2 + (seed * 7919 + k * 104_729) % (bad.len() - 2);
            bad[i] = bad[i].wrapping_mul(31).wrapping_add(seed as u8);
        }
        // any result but a crash or a hang; a region too
        let _ = decode(&bad, None, false);
        let _ = decode(
            &bad,
            Some(Region {
                top: 5,
                left: 9,
                height: 20,
                width: 30,
            }),
            false,
        );
    }
}

/// Every narrow band of columns and of rows at every position (the cases where the
/// decoded span is a single iMCU or less).
#[test]
fn every_narrow_band_is_exact() {
    let fx = load_fixture("decode.safetensors");
    for name in ["s420", "s422", "prog420", "gray"] {
        let (bytes, want) = case(&fx, name);
        let (h, w) = (want.height, want.width);
        let mut boxes = Vec::new();
        for size in 1..=18 {
            boxes.extend((0..=w - size).map(|left| Region {
                top: 0,
                left,
                height: h,
                width: size,
            }));
            boxes.extend((0..=h - size).map(|top| Region {
                top,
                left: 0,
                height: size,
                width: w,
            }));
        }
        for r in boxes {
            let got = decode(&bytes, Some(r), false).unwrap().unwrap();
            assert!(got.data == crop(&want, r), "{name}: region {r:?}");
        }
    }
}

/// The JPEG of `name` with its frame header claiming `height × width`.
fn claiming(fx: &HashMap<String, Tensor>, name: &str, height: u16, width: u16) -> Vec<u8> {
    let (mut bytes, _) = case(fx, name);
    let sof = (0..bytes.len() - 1)
        .find(|&i| bytes[i] == 0xFF && matches!(bytes[i + 1], 0xC0 | 0xC2))
        .unwrap();
    bytes[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    bytes
}

#[test]
fn headers_claiming_huge_images_are_refused_before_decoding() {
    let fx = load_fixture("decode.safetensors");
    for name in ["s420", "prog420"] {
        let bytes = claiming(&fx, name, 60_000, 60_000);
        assert_eq!(read_header(&bytes).unwrap().height, 60_000);
        match decode(&bytes, None, false) {
            Err(e) => assert!(e.0.contains("exceeds limit"), "{e}"),
            Ok(_) => panic!("{name}: a 60000×60000 header was decoded"),
        }
        // under the limit: the entropy-coded data ends (at the EOI marker) long before
        // the rows do; libjpeg fills the rest with grey and PIL returns that image
        let bytes = claiming(&fx, name, 600, 800);
        let p = decode(&bytes, None, false).unwrap().unwrap();
        assert_eq!((p.height, p.width), (600, 800));
        assert_eq!(p.data[p.data.len() - 3..], [128, 128, 128]);
    }
}

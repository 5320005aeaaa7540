//! TFRecord framing, the container of a TensorBoard event file: each record is
//!
//! ```text
//! u64 length (little-endian) | u32 masked CRC-32C of those 8 bytes
//! data (length bytes)        | u32 masked CRC-32C of the data
//! ```
//!
//! where a masked CRC is `((crc >> 15) | (crc << 17)) + 0xa282ead8` (wrapping), as
//! TensorFlow's `crc32c::Mask` (a CRC of data that holds CRCs is then not a CRC of
//! itself).

use std::io::{self, Write};

/// The constant TensorFlow adds to a rotated CRC.
const MASK_DELTA: u32 = 0xa282_ead8;

/// The masked CRC-32C (Castagnoli) of `data`.
pub(crate) fn masked_crc(data: &[u8]) -> u32 {
    mask(crc32c::crc32c(data))
}

/// TensorFlow's CRC mask: rotate right by 15 bits, add a constant.
fn mask(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// `data` framed as one record.
pub(crate) fn frame(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
    out
}

/// Writes `data` to `w` as one record, in one `write_all` (a reader following a live
/// file sees a record whole or not at all, unless the write itself is cut short).
pub(crate) fn write_record<W: Write>(w: &mut W, data: &[u8]) -> io::Result<()> {
    w.write_all(&frame(data))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Reads the records of `bytes`, checking both CRCs of each; `Err` names the first
    /// record that is cut short or whose CRC does not match.
    pub(crate) fn read_records(mut bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let n = out.len();
            if bytes.len() < 12 {
                return Err(format!("record {n}: header cut short"));
            }
            let (len_bytes, rest) = bytes.split_at(8);
            let crc = u32::from_le_bytes(rest[..4].try_into().unwrap());
            if crc != masked_crc(len_bytes) {
                return Err(format!("record {n}: length CRC"));
            }
            let len = u64::from_le_bytes(len_bytes.try_into().unwrap()) as usize;
            let rest = &rest[4..];
            if rest.len() < len + 4 {
                return Err(format!("record {n}: data cut short"));
            }
            let (data, rest) = rest.split_at(len);
            let crc = u32::from_le_bytes(rest[..4].try_into().unwrap());
            if crc != masked_crc(data) {
                return Err(format!("record {n}: data CRC"));
            }
            out.push(data.to_vec());
            bytes = &rest[4..];
        }
        Ok(out)
    }

    #[test]
    fn crc32c_is_castagnolis() {
        // the check value of CRC-32C (RFC 3720's iSCSI CRC)
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c::crc32c(b""), 0);
        // RFC 3720 B.4: 32 bytes of zeros, of 0xff
        assert_eq!(crc32c::crc32c(&[0u8; 32]), 0x8a91_36aa);
        assert_eq!(crc32c::crc32c(&[0xffu8; 32]), 0x62a8_ab43);
    }

    #[test]
    #[allow(clippy::manual_rotate)] // the formula as TensorFlow writes it
    fn the_mask_is_tensorflows() {
        let crc = 0xe306_9283u32;
        let by_hand = ((crc >> 15) | (crc << 17)).wrapping_add(0xa282_ead8);
        assert_eq!(masked_crc(b"123456789"), by_hand);
        assert_eq!(mask(0), MASK_DELTA);
    }

    #[test]
    fn a_record_frames_its_length_and_data() {
        let rec = frame(b"abc");
        assert_eq!(rec.len(), 8 + 4 + 3 + 4);
        assert_eq!(&rec[..8], &3u64.to_le_bytes());
        assert_eq!(&rec[12..15], b"abc");
        assert_eq!(
            u32::from_le_bytes(rec[8..12].try_into().unwrap()),
            masked_crc(&3u64.to_le_bytes())
        );
    }

    #[test]
    fn records_round_trip_and_damage_is_found() {
        let mut file = Vec::new();
        let payloads: [&[u8]; 3] = [b"", b"one", &[7u8; 300]];
        for p in payloads {
            write_record(&mut file, p).unwrap();
        }
        let back = read_records(&file).unwrap();
        assert_eq!(back, payloads.map(<[u8]>::to_vec).to_vec());
        let mut bad = file.clone();
        bad[8 + 4 + 4 + 8 + 4 + 1] ^= 1; // a byte of "one"
        assert_eq!(read_records(&bad).unwrap_err(), "record 1: data CRC");
        let mut bad = file.clone();
        bad[0] ^= 1; // the first length
        assert_eq!(read_records(&bad).unwrap_err(), "record 0: length CRC");
        assert!(read_records(&file[..file.len() - 1]).is_err());
    }
}

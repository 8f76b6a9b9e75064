//! The SST bloom filter over user keys (not versions), so a point lookup of
//! an absent key usually costs no page read.
//!
//! Block layout: `probes: u32 | bits: bytes | crc32c: u32`. Probe `i` of a
//! key sets bit `(h + i * delta) mod m` (double hashing over one 64-bit hash
//! `h`, Kirsch and Mitzenmacher), where `m` is the number of bits. The hash
//! is part of the format: changing it needs a new format version.

use bytes::Bytes;

use crate::codec::{Decoder, Encoder};
use crate::error::Result;

/// More probes than this cost more than they save at any sane bits/key.
const MAX_PROBES: u32 = 30;

/// A decoded filter.
#[derive(Clone, Debug)]
pub(super) struct Bloom {
    probes: u32,
    bits: Bytes,
}

impl Bloom {
    /// Encodes the filter block for keys with these [`key_hash`]es.
    pub(super) fn encode(hashes: &[u64], bits_per_key: usize) -> Vec<u8> {
        let nbits = hashes.len().saturating_mul(bits_per_key).max(64);
        let mut bits = vec![0u8; nbits.div_ceil(8)];
        let m = bits.len() as u64 * 8;
        // k = ln 2 * bits/key minimises false positives.
        let probes = ((bits_per_key as f64 * 0.69).round() as u32).clamp(1, MAX_PROBES);
        for &h in hashes {
            for bit in probe_bits(h, probes, m) {
                bits[(bit / 8) as usize] |= 1 << (bit % 8);
            }
        }
        let mut e = Encoder::with_capacity(bits.len() + 12);
        e.u32(probes);
        e.bytes(&bits);
        e.finish_with_crc()
    }

    /// Decodes a filter block, checking its CRC: a flipped bit in a filter
    /// would otherwise turn into a false negative, a wrong answer.
    pub(super) fn decode(object: &str, buf: Bytes) -> Result<Bloom> {
        let mut d = Decoder::checked(object, "bloom filter", buf)?;
        let probes = d.u32()?;
        let bits = d.bytes()?;
        d.finish()?;
        if !(1..=MAX_PROBES).contains(&probes) || bits.is_empty() {
            return Err(d.corrupt(format!(
                "bloom filter: {probes} probes over {} bytes",
                bits.len()
            )));
        }
        Ok(Bloom { probes, bits })
    }

    /// False only if `key` is certainly not in the SST.
    pub(super) fn may_contain(&self, key: &[u8]) -> bool {
        let m = self.bits.len() as u64 * 8;
        probe_bits(key_hash(key), self.probes, m)
            .all(|bit| self.bits[(bit / 8) as usize] & (1 << (bit % 8)) != 0)
    }

    /// Bytes held in memory.
    pub(super) fn size(&self) -> usize {
        self.bits.len()
    }
}

fn probe_bits(h: u64, probes: u32, m: u64) -> impl Iterator<Item = u64> {
    let delta = h.rotate_left(32);
    (0..u64::from(probes)).map(move |i| h.wrapping_add(i.wrapping_mul(delta)) % m)
}

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;

/// A 64-bit hash of a key, in the style of xxHash64: eight bytes at a time,
/// then murmur3's finalizer so every input bit reaches every output bit.
/// The length seeds the state, so zero padding of the last word is safe.
pub(super) fn key_hash(key: &[u8]) -> u64 {
    let round = |h: u64, word: u64| {
        (h ^ word.wrapping_mul(P2).rotate_left(31).wrapping_mul(P1))
            .rotate_left(27)
            .wrapping_mul(P1)
            .wrapping_add(P3)
    };
    let mut h = P3 ^ (key.len() as u64).wrapping_mul(P1);
    let mut words = key.chunks_exact(8);
    for w in &mut words {
        h = round(h, u64::from_le_bytes(w.try_into().expect("8 bytes")));
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        h = round(h, u64::from_le_bytes(last));
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(keys: impl Iterator<Item = Vec<u8>>, bits_per_key: usize) -> Bloom {
        let hashes: Vec<u64> = keys.map(|k| key_hash(&k)).collect();
        Bloom::decode("obj", Bytes::from(Bloom::encode(&hashes, bits_per_key))).unwrap()
    }

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let key = |i: u32| format!("key-{i}").into_bytes();
        let bloom = build((0..10_000).map(key), 10);
        assert!((0..10_000).all(|i| bloom.may_contain(&key(i))));
        let fp = (10_000..110_000)
            .filter(|&i| bloom.may_contain(&key(i)))
            .count();
        // About 1% at 10 bits per key.
        assert!(fp < 2_000, "{fp} false positives in 100000");
    }

    #[test]
    fn tiny_and_degenerate_filters() {
        let bloom = build(std::iter::once(b"only".to_vec()), 0);
        assert!(bloom.may_contain(b"only"));
        let bloom = build(std::iter::empty(), 10);
        assert!(!bloom.may_contain(b"anything"));
    }

    #[test]
    fn damaged_blocks_are_corrupt() {
        let block = Bloom::encode(&[key_hash(b"a")], 10);
        for i in 0..block.len() {
            let mut bad = block.clone();
            bad[i] ^= 1;
            assert!(Bloom::decode("obj", Bytes::from(bad)).is_err(), "byte {i}");
        }
        let mut e = Encoder::default();
        e.u32(0);
        e.bytes(&[0xff]);
        assert!(Bloom::decode("obj", Bytes::from(e.finish_with_crc())).is_err());
    }

    /// The hash is part of the on-object format: pin it.
    #[test]
    fn key_hash_is_stable() {
        let got: Vec<u64> = [&b""[..], b"a", b"abcdefgh", b"abcdefghi", b"\x00\x00"]
            .iter()
            .map(|k| key_hash(k))
            .collect();
        assert_eq!(got, PINNED_HASHES);
    }

    const PINNED_HASHES: [u64; 5] = [
        17622645311363874476,
        9795858804740981053,
        4479036455448355355,
        16922091952869195009,
        243202196132368161,
    ];
}

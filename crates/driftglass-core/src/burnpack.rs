//! Reading the weights of model files of format 1 and 2, which stored them as burn's
//! `ModuleRecord` bytes (the burnpack container of burn 0.22), without burn.
//!
//! A burnpack is: magic `0x4255524E` (u32 LE), version (u16 LE), metadata length (u32 LE), the
//! metadata in CBOR, then the tensors' bytes from the next multiple of 256. The metadata maps
//! each tensor's name to `{dtype, shape, data_offsets: [start, end], param_id}` (offsets from
//! the start of the data section). Only what those files hold is read: f32 tensors. A small
//! CBOR reader is written here rather than a dependency: the metadata uses definite lengths,
//! maps, arrays, text and unsigned integers, and hostile input must fail cleanly (every length
//! is checked against the bytes left, nesting is limited).

use std::collections::BTreeMap;

/// burnpack's magic number ("BURN").
const MAGIC: u32 = 0x4255_524E;
/// burnpack's data section starts at a multiple of this.
const ALIGNMENT: usize = 256;
/// Deepest CBOR nesting accepted (the metadata needs 4).
const MAX_DEPTH: usize = 16;
/// Largest metadata section accepted: the autoencoder's is under 1 KiB. Each CBOR byte can
/// become a 32-byte value in memory, so the cap bounds what a hostile file can make us allocate.
const MAX_METADATA: usize = 64 << 10;

/// One tensor: shape and values.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// A CBOR value, as far as burnpack metadata needs.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Unsigned(u64),
    Negative,
    Bytes,
    Text(String),
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Simple,
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: u64) -> Result<&'a [u8], String> {
        let left = (self.bytes.len() - self.at) as u64;
        if count > left {
            return Err(format!("CBOR: {count} bytes needed, {left} left"));
        }
        let slice = &self.bytes[self.at..self.at + count as usize];
        self.at += count as usize;
        Ok(slice)
    }

    /// The argument of a head with additional information `info`.
    fn argument(&mut self, info: u8) -> Result<u64, String> {
        let be = |b: &[u8]| b.iter().fold(0u64, |v, &x| (v << 8) | x as u64);
        match info {
            0..=23 => Ok(info as u64),
            24 => Ok(be(self.take(1)?)),
            25 => Ok(be(self.take(2)?)),
            26 => Ok(be(self.take(4)?)),
            27 => Ok(be(self.take(8)?)),
            _ => Err(format!("CBOR: unsupported length encoding {info}")),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err("CBOR: nested too deeply".into());
        }
        let head = self.take(1)?[0];
        let (major, info) = (head >> 5, head & 0x1f);
        match major {
            0 => Ok(Value::Unsigned(self.argument(info)?)),
            1 => {
                self.argument(info)?;
                Ok(Value::Negative)
            }
            2 => {
                let len = self.argument(info)?;
                self.take(len)?;
                Ok(Value::Bytes)
            }
            3 => {
                let len = self.argument(info)?;
                let text = std::str::from_utf8(self.take(len)?)
                    .map_err(|_| "CBOR: text is not UTF-8".to_string())?;
                Ok(Value::Text(text.to_string()))
            }
            4 => {
                let len = self.argument(info)?;
                // Each item takes at least a byte: a longer declared length cannot be real.
                if len > (self.bytes.len() - self.at) as u64 {
                    return Err("CBOR: array longer than the input".into());
                }
                (0..len)
                    .map(|_| self.value(depth + 1))
                    .collect::<Result<_, _>>()
                    .map(Value::Array)
            }
            5 => {
                let len = self.argument(info)?;
                if len.saturating_mul(2) > (self.bytes.len() - self.at) as u64 {
                    return Err("CBOR: map longer than the input".into());
                }
                (0..len)
                    .map(|_| Ok((self.value(depth + 1)?, self.value(depth + 1)?)))
                    .collect::<Result<_, String>>()
                    .map(Value::Map)
            }
            6 => {
                self.argument(info)?;
                self.value(depth + 1)
            }
            _ => {
                // Simple values and floats: skip their payload.
                match info {
                    24 => self.take(1).map(|_| Value::Simple),
                    25 => self.take(2).map(|_| Value::Simple),
                    26 => self.take(4).map(|_| Value::Simple),
                    27 => self.take(8).map(|_| Value::Simple),
                    0..=23 => Ok(Value::Simple),
                    _ => Err("CBOR: indefinite lengths are not supported".into()),
                }
            }
        }
    }
}

fn field<'v>(map: &'v [(Value, Value)], name: &str) -> Option<&'v Value> {
    map.iter()
        .find(|(k, _)| matches!(k, Value::Text(t) if t == name))
        .map(|(_, v)| v)
}

fn unsigned(value: Option<&Value>, what: &str) -> Result<u64, String> {
    match value {
        Some(Value::Unsigned(v)) => Ok(*v),
        _ => Err(format!("{what} is not an unsigned integer")),
    }
}

/// Every tensor of a burnpack, by name.
pub fn read(bytes: &[u8]) -> Result<BTreeMap<String, Tensor>, String> {
    if bytes.len() < 10 {
        return Err("burnpack: shorter than its header".into());
    }
    let magic = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if magic != MAGIC {
        return Err("burnpack: wrong magic number".into());
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if version != 1 {
        return Err(format!("burnpack: version {version} is not supported"));
    }
    let metadata_len = u32::from_le_bytes([bytes[6], bytes[7], bytes[8], bytes[9]]) as usize;
    if metadata_len > MAX_METADATA {
        return Err(format!(
            "burnpack: {metadata_len} bytes of metadata, more than the {MAX_METADATA} accepted"
        ));
    }
    let metadata_end = 10usize
        .checked_add(metadata_len)
        .filter(|end| *end <= bytes.len())
        .ok_or("burnpack: metadata runs past the end")?;
    let mut reader = Reader {
        bytes: &bytes[10..metadata_end],
        at: 0,
    };
    let Value::Map(metadata) = reader.value(0)? else {
        return Err("burnpack: metadata is not a map".into());
    };
    let Some(Value::Map(tensors)) = field(&metadata, "tensors") else {
        return Err("burnpack: metadata has no tensors".into());
    };
    let data_start = metadata_end.div_ceil(ALIGNMENT) * ALIGNMENT;
    let data = bytes.get(data_start..).unwrap_or_default();
    let mut out = BTreeMap::new();
    for (name, descriptor) in tensors {
        let (Value::Text(name), Value::Map(descriptor)) = (name, descriptor) else {
            return Err("burnpack: a tensor entry is malformed".into());
        };
        match field(descriptor, "dtype") {
            Some(Value::Text(dtype)) if dtype == "F32" => {}
            other => return Err(format!("burnpack: {name} has dtype {other:?}, not F32")),
        }
        let Some(Value::Array(dims)) = field(descriptor, "shape") else {
            return Err(format!("burnpack: {name} has no shape"));
        };
        if dims.len() > 8 {
            return Err(format!("burnpack: {name} has {} dimensions", dims.len()));
        }
        let shape = dims
            .iter()
            .map(|d| unsigned(Some(d), "a dimension").map(|d| d as usize))
            .collect::<Result<Vec<_>, _>>()?;
        let Some(Value::Array(offsets)) = field(descriptor, "data_offsets") else {
            return Err(format!("burnpack: {name} has no data offsets"));
        };
        let [start, end] = offsets.as_slice() else {
            return Err(format!("burnpack: {name} has malformed data offsets"));
        };
        let (start, end) = (
            unsigned(Some(start), "offset")?,
            unsigned(Some(end), "offset")?,
        );
        let count = shape
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(d as u64))
            .ok_or_else(|| format!("burnpack: {name} is too large"))?;
        if end < start || end - start != count.saturating_mul(4) || end > data.len() as u64 {
            return Err(format!(
                "burnpack: {name}'s bytes {start}..{end} do not hold shape {shape:?} within {} bytes",
                data.len()
            ));
        }
        let values = data[start as usize..end as usize]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        out.insert(name.clone(), Tensor { shape, values });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cbor_values_decode() {
        // {"a": [1, 500, "x"], "b": {"c": 70000}}
        let bytes = [
            0xa2, 0x61, b'a', 0x83, 0x01, 0x19, 0x01, 0xf4, 0x61, b'x', 0x61, b'b', 0xa1, 0x61,
            b'c', 0x1a, 0x00, 0x01, 0x11, 0x70,
        ];
        let value = Reader {
            bytes: &bytes,
            at: 0,
        }
        .value(0)
        .unwrap_or_else(|e| panic!("{e}"));
        let Value::Map(map) = value else {
            panic!("not a map")
        };
        assert_eq!(
            field(&map, "a"),
            Some(&Value::Array(vec![
                Value::Unsigned(1),
                Value::Unsigned(500),
                Value::Text("x".into())
            ]))
        );
        assert_eq!(
            field(&map, "b"),
            Some(&Value::Map(vec![(
                Value::Text("c".into()),
                Value::Unsigned(70_000)
            )]))
        );
    }

    #[test]
    fn oversized_metadata_is_refused_before_it_is_parsed() {
        let mut pack = MAGIC.to_le_bytes().to_vec();
        pack.extend_from_slice(&1u16.to_le_bytes());
        pack.extend_from_slice(&((MAX_METADATA + 1) as u32).to_le_bytes());
        pack.push(0x9a); // an array of 2^28 items...
        pack.extend_from_slice(&[0x10, 0, 0, 0]);
        pack.resize(10 + MAX_METADATA + 1, 0); // ...of one-byte zeros
        let refused = read(&pack);
        assert!(
            matches!(&refused, Err(e) if e.contains("metadata")),
            "{refused:?}"
        );
    }

    #[test]
    fn hostile_cbor_fails_cleanly() {
        for bytes in [
            &[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff][..], // huge array
            &[0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff][..], // huge map
            &[0x7a, 0xff, 0xff, 0xff, 0xff][..],                         // long text
            &[0x81; 40][..],                                             // deep nesting
            &[0x9f][..],                                                 // indefinite
            &[][..],
        ] {
            let result = Reader { bytes, at: 0 }.value(0);
            assert!(result.is_err(), "{bytes:?} gave {result:?}");
        }
    }
}

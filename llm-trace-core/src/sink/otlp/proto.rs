//! A minimal protobuf wire-format writer and reader: just what OTLP trace export needs.
//!
//! Encoding rules (<https://protobuf.dev/programming-guides/encoding/>): every field is a key
//! (`field_number << 3 | wire_type`, as a varint) followed by its value; varints carry 7 bits
//! per byte, least significant group first, with the high bit set on every byte but the last;
//! `int64` is written as the two's complement `u64` (10 bytes when negative); `double` and
//! `fixed64` are 8 little-endian bytes, `fixed32` 4; strings, bytes and nested messages are a
//! varint length followed by that many bytes.
//!
//! The writer omits nothing on its own: callers skip proto3 default values where they want to
//! (a `oneof` member such as `AnyValue.int_value = 0` must still be written).

/// How a field's value is laid out on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WireType {
    Varint = 0,
    Fixed64 = 1,
    Len = 2,
    Fixed32 = 5,
}

/// Appends protobuf fields to a byte buffer.
#[derive(Debug, Default)]
pub(super) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub(super) fn with_capacity(capacity: usize) -> Writer {
        Writer { buf: Vec::with_capacity(capacity) }
    }

    pub(super) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    #[cfg(test)]
    fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    pub(super) fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.buf.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.buf.push(value as u8);
    }

    pub(super) fn key(&mut self, field: u32, wire: WireType) {
        self.varint(u64::from(field) << 3 | wire as u64);
    }

    /// A `uint32`, `uint64` or enum field.
    pub(super) fn uint64(&mut self, field: u32, value: u64) {
        self.key(field, WireType::Varint);
        self.varint(value);
    }

    /// An `int64` field (negative values take 10 bytes, as protobuf specifies).
    pub(super) fn int64(&mut self, field: u32, value: i64) {
        self.uint64(field, value as u64);
    }

    pub(super) fn bool(&mut self, field: u32, value: bool) {
        self.uint64(field, u64::from(value));
    }

    pub(super) fn double(&mut self, field: u32, value: f64) {
        self.fixed64(field, value.to_bits());
    }

    pub(super) fn fixed64(&mut self, field: u32, value: u64) {
        self.key(field, WireType::Fixed64);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    pub(super) fn fixed32(&mut self, field: u32, value: u32) {
        self.key(field, WireType::Fixed32);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    pub(super) fn bytes(&mut self, field: u32, value: &[u8]) {
        self.key(field, WireType::Len);
        self.varint(value.len() as u64);
        self.buf.extend_from_slice(value);
    }

    pub(super) fn string(&mut self, field: u32, value: &str) {
        self.bytes(field, value.as_bytes());
    }

    /// A nested message whose fields `body` writes.
    ///
    /// The length is not known until the body is written: one byte is reserved for it (enough
    /// below 128 bytes, the common case for attributes) and the rest inserted afterwards, which
    /// moves each message's body once.
    pub(super) fn message(&mut self, field: u32, body: impl FnOnce(&mut Writer)) {
        self.key(field, WireType::Len);
        let at = self.buf.len();
        self.buf.push(0);
        body(self);
        let len = self.buf.len() - at - 1;
        if len < 0x80 {
            self.buf[at] = len as u8;
        } else {
            let mut prefix = Writer::with_capacity(10);
            prefix.varint(len as u64);
            self.buf.splice(at..=at, prefix.buf);
        }
    }
}

/// A field's value as read by [`Reader`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Len(&'a [u8]),
    Fixed32(u32),
}

/// Iterates over the fields of one encoded message (used for the collector's answers).
/// Stops at the first malformed field.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for (i, &byte) in self.buf.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                self.buf = &self.buf[i + 1..];
                return Some(value);
            }
        }
        None
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.buf.len() < n {
            return None;
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Some(head)
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = (u32, Value<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        let field = self.read_field();
        if field.is_none() {
            self.buf = &[];
        }
        field
    }
}

impl<'a> Reader<'a> {
    fn read_field(&mut self) -> Option<(u32, Value<'a>)> {
        let key = self.varint()?;
        let field = u32::try_from(key >> 3).ok()?;
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => Value::Fixed64(u64::from_le_bytes(self.take(8)?.try_into().ok()?)),
            2 => {
                let len = usize::try_from(self.varint()?).ok()?;
                Value::Len(self.take(len)?)
            }
            5 => Value::Fixed32(u32::from_le_bytes(self.take(4)?.try_into().ok()?)),
            _ => return None,
        };
        Some((field, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(value: u64) -> Vec<u8> {
        let mut w = Writer::default();
        w.varint(value);
        w.into_bytes()
    }

    #[test]
    fn varints_use_seven_bits_per_byte_low_group_first() {
        assert_eq!(varint(0), [0x00]);
        assert_eq!(varint(1), [0x01]);
        assert_eq!(varint(127), [0x7f]);
        assert_eq!(varint(128), [0x80, 0x01]);
        assert_eq!(varint(150), [0x96, 0x01]); // the protobuf documentation's example
        assert_eq!(varint(300), [0xac, 0x02]);
        assert_eq!(varint(16_383), [0xff, 0x7f]);
        assert_eq!(varint(16_384), [0x80, 0x80, 0x01]);
        assert_eq!(varint(u64::MAX), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    }

    #[test]
    fn keys_combine_field_number_and_wire_type() {
        let mut w = Writer::default();
        w.uint64(1, 150);
        assert_eq!(w.as_bytes(), [0x08, 0x96, 0x01]);
        let mut w = Writer::default();
        w.fixed32(16, 1); // field 16 needs a two-byte key
        assert_eq!(w.as_bytes(), [0x85, 0x01, 1, 0, 0, 0]);
        let mut w = Writer::default();
        w.string(2, "testing");
        assert_eq!(w.as_bytes(), b"\x12\x07testing");
    }

    #[test]
    fn scalars_have_their_wire_layout() {
        let mut w = Writer::default();
        w.int64(3, -1);
        assert_eq!(
            w.as_bytes(),
            [0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
        );
        let mut w = Writer::default();
        w.double(4, 1.5);
        assert_eq!(w.as_bytes(), [0x21, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f]);
        let mut w = Writer::default();
        w.fixed64(7, 0x0102_0304_0506_0708);
        assert_eq!(w.as_bytes(), [0x39, 8, 7, 6, 5, 4, 3, 2, 1]);
        let mut w = Writer::default();
        w.bool(2, true);
        w.bool(2, false);
        assert_eq!(w.as_bytes(), [0x10, 1, 0x10, 0]);
        let mut w = Writer::default();
        w.bytes(1, &[]);
        assert_eq!(w.as_bytes(), [0x0a, 0]);
    }

    #[test]
    fn nested_messages_get_the_right_length_prefix_on_both_sides_of_each_varint_boundary() {
        for len in [0usize, 1, 125, 126, 127, 128, 129, 16_381, 16_382, 16_383, 16_384, 70_000] {
            let mut w = Writer::default();
            w.uint64(1, 7);
            w.message(2, |w| {
                w.message(3, |w| w.bytes(4, &vec![0xab; len]));
            });
            w.uint64(5, 9);

            let fields: Vec<_> = Reader::new(w.as_bytes()).collect();
            assert_eq!(fields.len(), 3, "len {len}");
            assert_eq!(fields[0], (1, Value::Varint(7)));
            assert_eq!(fields[2], (5, Value::Varint(9)));
            let (2, Value::Len(outer)) = fields[1] else { panic!("{:?}", fields[1]) };
            let inner: Vec<_> = Reader::new(outer).collect();
            let [(3, Value::Len(inner))] = inner[..] else { panic!("{inner:?}") };
            let leaf: Vec<_> = Reader::new(inner).collect();
            let [(4, Value::Len(bytes))] = leaf[..] else { panic!("{leaf:?}") };
            assert_eq!(bytes.len(), len);
            assert!(bytes.iter().all(|&b| b == 0xab));
        }
    }

    #[test]
    fn the_reader_stops_at_malformed_input() {
        assert_eq!(Reader::new(&[0x08]).count(), 0); // key without value
        assert_eq!(Reader::new(&[0x12, 0x05, b'a']).count(), 0); // length past the end
        assert_eq!(Reader::new(&[0x0b]).count(), 0); // group wire types are not supported
        let fields: Vec<_> = Reader::new(&[0x08, 0x01, 0x12, 0x05]).collect();
        assert_eq!(fields, [(1, Value::Varint(1))]);
        let fields: Vec<_> =
            Reader::new(&[0x0d, 1, 0, 0, 0, 0x11, 2, 0, 0, 0, 0, 0, 0, 0]).collect();
        assert_eq!(fields, [(1, Value::Fixed32(1)), (2, Value::Fixed64(2))]);
    }
}

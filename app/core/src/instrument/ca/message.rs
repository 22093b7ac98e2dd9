//! The Channel Access wire format: a 16-byte big-endian header (24 bytes with the extended
//! header that large arrays need), then a payload padded to a multiple of 8.
//!
//! This is the one place that parses bytes from the network, so it never trusts a length: sizes
//! are checked against [`MAX_PAYLOAD`] before anything is allocated, and a short or garbled
//! message is an error, never a panic.

use std::fmt;

/// Larger payloads are refused: the biggest PV the updater reads (CS:INSTLIST) is a few kB.
pub const MAX_PAYLOAD: usize = 16 << 20;
pub const HEADER: usize = 16;
const EXTENDED_HEADER: usize = 24;
/// Protocol minor version this client speaks (EPICS 3.14+ and 7).
pub const MINOR_VERSION: u16 = 13;

pub mod cmd {
    pub const VERSION: u16 = 0;
    pub const SEARCH: u16 = 6;
    pub const ERROR: u16 = 11;
    pub const CLEAR_CHANNEL: u16 = 12;
    pub const READ_NOTIFY: u16 = 15;
    pub const CREATE_CHAN: u16 = 18;
    pub const CLIENT_NAME: u16 = 20;
    pub const HOST_NAME: u16 = 21;
    pub const ACCESS_RIGHTS: u16 = 22;
    pub const ECHO: u16 = 23;
    pub const CREATE_CH_FAIL: u16 = 26;
    pub const SERVER_DISCONN: u16 = 27;
}

/// DBR types the updater reads.
pub mod dbr {
    pub const STRING: u16 = 0;
    pub const CHAR: u16 = 4;
    /// Bytes per DBR_STRING element.
    pub const STRING_SIZE: usize = 40;
}

/// ECA_NORMAL: the status a successful read reports.
pub const ECA_NORMAL: u32 = 1;
/// Search reply flag: do not answer a failed search (what UDP searches use).
pub const DONT_REPLY: u16 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub command: u16,
    pub data_type: u16,
    pub data_count: u32,
    pub param1: u32,
    pub param2: u32,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("a message declares a {size}-byte payload, over the {MAX_PAYLOAD}-byte limit")]
    TooLarge { size: usize },
    #[error("{0}")]
    Malformed(&'static str),
}

impl Message {
    pub fn new(command: u16, data_type: u16, data_count: u32, param1: u32, param2: u32) -> Self {
        Message {
            command,
            data_type,
            data_count,
            param1,
            param2,
            payload: Vec::new(),
        }
    }

    pub fn with_payload(mut self, payload: Vec<u8>) -> Self {
        self.payload = payload;
        self
    }

    /// A payload holding `text` NUL-terminated, as PV, client and host names are sent.
    pub fn with_name(self, text: &str) -> Self {
        let mut payload = text.as_bytes().to_vec();
        payload.push(0);
        self.with_payload(payload)
    }

    /// Appends the encoded message (payload padded to 8 bytes) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let padded = self.payload.len().div_ceil(8) * 8;
        let extended = padded >= 0xffff || self.data_count > 0xffff;
        out.extend_from_slice(&self.command.to_be_bytes());
        if extended {
            out.extend_from_slice(&0xffffu16.to_be_bytes());
            out.extend_from_slice(&self.data_type.to_be_bytes());
            out.extend_from_slice(&0u16.to_be_bytes());
        } else {
            out.extend_from_slice(&(padded as u16).to_be_bytes());
            out.extend_from_slice(&self.data_type.to_be_bytes());
            out.extend_from_slice(&(self.data_count as u16).to_be_bytes());
        }
        out.extend_from_slice(&self.param1.to_be_bytes());
        out.extend_from_slice(&self.param2.to_be_bytes());
        if extended {
            out.extend_from_slice(&(padded as u32).to_be_bytes());
            out.extend_from_slice(&self.data_count.to_be_bytes());
        }
        out.extend_from_slice(&self.payload);
        out.resize(out.len() + padded - self.payload.len(), 0);
    }

    /// Decodes one message from the start of `buf`. `Ok(None)` means more bytes are needed;
    /// otherwise returns the message and how many bytes it used.
    pub fn decode(buf: &[u8]) -> Result<Option<(Message, usize)>, DecodeError> {
        if buf.len() < HEADER {
            return Ok(None);
        }
        let u16_at = |i: usize| u16::from_be_bytes([buf[i], buf[i + 1]]);
        let u32_at = |i: usize| u32::from_be_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
        let command = u16_at(0);
        let small_size = u16_at(2);
        let data_type = u16_at(4);
        let small_count = u16_at(6);
        let (param1, param2) = (u32_at(8), u32_at(12));
        let (header, size, data_count) = if small_size == 0xffff && small_count == 0 {
            if buf.len() < EXTENDED_HEADER {
                return Ok(None);
            }
            (EXTENDED_HEADER, u32_at(16) as usize, u32_at(20))
        } else {
            (HEADER, usize::from(small_size), u32::from(small_count))
        };
        if size > MAX_PAYLOAD {
            return Err(DecodeError::TooLarge { size });
        }
        let Some(end) = header.checked_add(size) else {
            return Err(DecodeError::Malformed("the payload size overflows"));
        };
        if buf.len() < end {
            return Ok(None);
        }
        let message = Message {
            command,
            data_type,
            data_count,
            param1,
            param2,
            payload: buf[header..end].to_vec(),
        };
        Ok(Some((message, end)))
    }

    /// Decodes every whole message in a UDP datagram.
    pub fn decode_datagram(mut buf: &[u8]) -> Result<Vec<Message>, DecodeError> {
        let mut messages = Vec::new();
        while !buf.is_empty() {
            match Message::decode(buf)? {
                Some((message, used)) => {
                    messages.push(message);
                    buf = &buf[used..];
                }
                None => return Err(DecodeError::Malformed("a datagram ends inside a message")),
            }
        }
        Ok(messages)
    }

    /// The payload as text up to its first NUL (names and DBR_STRING values).
    pub fn payload_text(&self) -> String {
        text_until_nul(&self.payload)
    }
}

pub fn text_until_nul(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// A value read from a PV, in the DBR types the updater uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// DBR_STRING elements.
    Strings(Vec<String>),
    /// A DBR_CHAR array (a char waveform such as CS:INSTLIST).
    Chars(Vec<u8>),
}

impl Value {
    /// Decodes the payload of a read reply, checking the declared count against the bytes that
    /// actually arrived.
    pub fn decode(data_type: u16, count: u32, payload: &[u8]) -> Result<Value, DecodeError> {
        let count = count as usize;
        match data_type {
            dbr::STRING => {
                let need = count
                    .checked_mul(dbr::STRING_SIZE)
                    .ok_or(DecodeError::Malformed("the element count overflows"))?;
                if need > payload.len() {
                    return Err(DecodeError::Malformed(
                        "fewer string bytes than the element count says",
                    ));
                }
                Ok(Value::Strings(
                    payload[..need]
                        .chunks(dbr::STRING_SIZE)
                        .map(text_until_nul)
                        .collect(),
                ))
            }
            dbr::CHAR => {
                if count > payload.len() {
                    return Err(DecodeError::Malformed(
                        "fewer bytes than the element count says",
                    ));
                }
                Ok(Value::Chars(payload[..count].to_vec()))
            }
            _ => Err(DecodeError::Malformed(
                "a DBR type the updater does not read",
            )),
        }
    }

    /// The value as text: the first string, or a char array up to its first NUL.
    pub fn as_text(&self) -> String {
        match self {
            Value::Strings(s) => s.first().cloned().unwrap_or_default(),
            Value::Chars(c) => text_until_nul(c),
        }
    }

    /// Encodes for a read reply: (DBR type, element count, payload).
    pub fn encode(&self) -> (u16, u32, Vec<u8>) {
        match self {
            Value::Strings(strings) => {
                let mut payload = Vec::with_capacity(strings.len() * dbr::STRING_SIZE);
                for s in strings {
                    let mut field = [0u8; dbr::STRING_SIZE];
                    let bytes = s.as_bytes();
                    let n = bytes.len().min(dbr::STRING_SIZE - 1);
                    field[..n].copy_from_slice(&bytes[..n]);
                    payload.extend_from_slice(&field);
                }
                (dbr::STRING, strings.len() as u32, payload)
            }
            Value::Chars(chars) => (dbr::CHAR, chars.len() as u32, chars.clone()),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(message: &Message) -> Message {
        let mut buf = Vec::new();
        message.encode(&mut buf);
        assert_eq!(buf.len() % 8, 0);
        let (decoded, used) = Message::decode(&buf).unwrap().unwrap();
        assert_eq!(used, buf.len());
        decoded
    }

    #[test]
    fn small_messages_use_the_16_byte_header() {
        let m = Message::new(cmd::SEARCH, DONT_REPLY, u32::from(MINOR_VERSION), 7, 7)
            .with_name("CS:INSTLIST");
        let mut buf = Vec::new();
        m.encode(&mut buf);
        assert_eq!(buf.len(), HEADER + 16);
        assert_eq!(&buf[0..2], &[0, 6]);
        assert_eq!(round_trip(&m).payload_text(), "CS:INSTLIST");
    }

    #[test]
    fn large_arrays_use_the_extended_header() {
        let m = Message::new(cmd::READ_NOTIFY, dbr::CHAR, 100_000, ECA_NORMAL, 3)
            .with_payload(vec![b'a'; 100_000]);
        let mut buf = Vec::new();
        m.encode(&mut buf);
        assert_eq!(&buf[2..4], &[0xff, 0xff]);
        let decoded = round_trip(&m);
        assert_eq!(decoded.data_count, 100_000);
        assert_eq!(
            Value::decode(decoded.data_type, decoded.data_count, &decoded.payload).unwrap(),
            Value::Chars(vec![b'a'; 100_000])
        );
    }

    #[test]
    fn partial_input_asks_for_more() {
        let m = Message::new(cmd::ECHO, 0, 0, 0, 0).with_payload(vec![1; 20]);
        let mut buf = Vec::new();
        m.encode(&mut buf);
        for cut in 0..buf.len() {
            assert_eq!(Message::decode(&buf[..cut]).unwrap(), None, "cut at {cut}");
        }
    }

    #[test]
    fn huge_declared_sizes_are_refused_without_allocating() {
        let mut buf = vec![0u8; 24];
        buf[2..4].copy_from_slice(&[0xff, 0xff]);
        buf[16..20].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            Message::decode(&buf),
            Err(DecodeError::TooLarge { .. })
        ));
    }

    #[test]
    fn element_counts_beyond_the_payload_are_errors() {
        assert!(Value::decode(dbr::STRING, u32::MAX, &[0; 40]).is_err());
        assert!(Value::decode(dbr::CHAR, 9, &[0; 8]).is_err());
        assert!(Value::decode(99, 1, &[0; 8]).is_err());
        assert_eq!(
            Value::decode(
                dbr::STRING,
                1,
                &Value::Strings(vec!["26.2.0.1234".into()]).encode().2
            )
            .unwrap()
            .as_text(),
            "26.2.0.1234"
        );
    }

    proptest! {
        #[test]
        fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(Some((m, used))) = Message::decode(&bytes) {
                prop_assert!(used <= bytes.len());
                let _ = Value::decode(m.data_type, m.data_count, &m.payload);
            }
            let _ = Message::decode_datagram(&bytes);
        }

        #[test]
        fn encode_decode_round_trips(command in any::<u16>(), data_type in any::<u16>(), count in 0u32..70_000,
                                     p1 in any::<u32>(), p2 in any::<u32>(), len in 0usize..70_000) {
            let m = Message::new(command, data_type, count, p1, p2).with_payload(vec![7; len]);
            let d = round_trip(&m);
            prop_assert_eq!((d.command, d.data_type, d.data_count, d.param1, d.param2), (command, data_type, count, p1, p2));
            prop_assert_eq!(&d.payload[..len], &m.payload[..]);
        }
    }
}

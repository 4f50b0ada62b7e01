//! Frames: a `u32` big-endian length, then that many bytes of body, where the body is one
//! version byte ([`WIRE_VERSION`]) followed by a postcard payload.
//!
//! Fault model: the peer is untrusted. It may send any bytes, stop mid-frame, or claim a length
//! of four gigabytes. Invariant: a length of zero or above [`FRAME_BYTES_MAX`] is rejected as soon
//! as its four header bytes arrive, before any of the body is allocated or buffered, and nothing
//! here panics on peer bytes. After a framing error the stream is out of sync and the connection
//! must be dropped.

use crate::wire::WireError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The protocol version carried by every frame; a peer with another version is refused.
pub const WIRE_VERSION: u8 = 1;
/// Largest body (version byte plus payload) a frame may carry.
pub const FRAME_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Bytes in the length prefix.
pub const FRAME_HEADER_BYTES: usize = 4;

const _: () = assert!(FRAME_BYTES_MAX <= u32::MAX as usize);

/// Encodes `value` as one complete frame: header, version byte, payload.
pub fn encode_frame<T: Serialize>(value: &T) -> Result<Vec<u8>, WireError> {
    let mut frame = Vec::with_capacity(64);
    frame.extend_from_slice(&[0; FRAME_HEADER_BYTES]);
    frame.push(WIRE_VERSION);
    let mut frame = postcard::to_extend(value, frame)
        .map_err(|error| WireError::Malformed(format!("cannot encode payload: {error}")))?;
    let len = frame.len() - FRAME_HEADER_BYTES;
    let header = check_len(len)?;
    frame[..FRAME_HEADER_BYTES].copy_from_slice(&header.to_be_bytes());
    Ok(frame)
}

/// Decodes a frame body (version byte plus payload), refusing a foreign version and any bytes
/// left over after the payload: a frame holds exactly one message.
pub fn decode_payload<T: DeserializeOwned>(body: &[u8]) -> Result<T, WireError> {
    let (&version, payload) = body.split_first().ok_or(WireError::EmptyFrame)?;
    if version != WIRE_VERSION {
        return Err(WireError::Version {
            got: version,
            expected: WIRE_VERSION,
        });
    }
    let (value, rest) = postcard::take_from_bytes::<T>(payload)
        .map_err(|error| WireError::Malformed(format!("undecodable payload: {error}")))?;
    if !rest.is_empty() {
        return Err(WireError::Malformed(format!(
            "{} trailing bytes after a {}-byte payload",
            rest.len(),
            payload.len() - rest.len()
        )));
    }
    Ok(value)
}

/// Checks a body length against the bounds and returns it as the header's `u32`.
fn check_len(len: usize) -> Result<u32, WireError> {
    if len == 0 {
        return Err(WireError::EmptyFrame);
    }
    if len > FRAME_BYTES_MAX {
        return Err(WireError::Oversized {
            len,
            max: FRAME_BYTES_MAX,
        });
    }
    u32::try_from(len).map_err(|_| WireError::Oversized {
        len,
        max: FRAME_BYTES_MAX,
    })
}

fn parse_header(header: [u8; FRAME_HEADER_BYTES]) -> Result<usize, WireError> {
    let len = usize::try_from(u32::from_be_bytes(header)).unwrap_or(usize::MAX);
    check_len(len)?;
    Ok(len)
}

/// An incremental, I/O-free frame splitter: push bytes as they arrive, take out whole frame
/// bodies. It holds at most the bytes pushed since the last complete frame, and reports a bad
/// length as soon as the header is complete. After it returns an error it stays failed.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buffer: Vec<u8>,
    failed: bool,
}

impl FrameDecoder {
    pub fn new() -> FrameDecoder {
        FrameDecoder::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        if !self.failed {
            self.buffer.extend_from_slice(bytes);
        }
    }

    /// Bytes held but not yet returned as a frame.
    pub fn buffered_len(&self) -> usize {
        self.buffer.len()
    }

    /// The next complete frame body, `None` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, WireError> {
        if self.failed {
            return Err(WireError::Malformed(
                "stream out of sync after an earlier framing error".into(),
            ));
        }
        let Some(header) = self.buffer.first_chunk::<FRAME_HEADER_BYTES>() else {
            return Ok(None);
        };
        let len = match parse_header(*header) {
            Ok(len) => len,
            Err(error) => {
                self.failed = true;
                self.buffer = Vec::new();
                return Err(error);
            }
        };
        let end = FRAME_HEADER_BYTES + len;
        if self.buffer.len() < end {
            return Ok(None);
        }
        let body = self.buffer[FRAME_HEADER_BYTES..end].to_vec();
        self.buffer.drain(..end);
        assert!(body.len() == len && len <= FRAME_BYTES_MAX);
        Ok(Some(body))
    }
}

/// Reads one frame body. A peer that closes between frames yields [`WireError::Closed`]; one
/// that closes inside a frame yields an `UnexpectedEof` I/O error. The body buffer grows with
/// the bytes that actually arrive, never with the length the peer claims. Not cancel-safe: a
/// caller that abandons it mid-frame must drop the stream.
pub async fn read_frame<R: AsyncRead + Unpin>(reader: &mut R) -> Result<Vec<u8>, WireError> {
    let mut header = [0; FRAME_HEADER_BYTES];
    let mut filled = 0;
    while filled < FRAME_HEADER_BYTES {
        let read = reader.read(&mut header[filled..]).await?;
        if read == 0 {
            if filled == 0 {
                return Err(WireError::Closed);
            }
            return Err(unexpected_eof(filled, FRAME_HEADER_BYTES).into());
        }
        filled += read;
    }
    let len = parse_header(header)?;
    let mut body = Vec::new();
    (&mut *reader)
        .take(len as u64)
        .read_to_end(&mut body)
        .await?;
    if body.len() != len {
        return Err(unexpected_eof(body.len(), len).into());
    }
    Ok(body)
}

fn unexpected_eof(got: usize, wanted: usize) -> std::io::Error {
    let message = format!("connection closed after {got} of {wanted} bytes");
    std::io::Error::new(std::io::ErrorKind::UnexpectedEof, message)
}

/// Writes one frame made by [`encode_frame`] and flushes it.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    writer: &mut W,
    frame: &[u8],
) -> Result<(), WireError> {
    // Pairs with the checks in `parse_header`: we never send what we would refuse to read.
    let header = frame
        .first_chunk::<FRAME_HEADER_BYTES>()
        .copied()
        .unwrap_or_default();
    let len = usize::try_from(u32::from_be_bytes(header)).unwrap_or(usize::MAX);
    assert!(
        len > 0 && len <= FRAME_BYTES_MAX && frame.len() == FRAME_HEADER_BYTES + len,
        "write_frame needs exactly one frame from encode_frame"
    );
    writer.write_all(frame).await?;
    writer.flush().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_layout_is_length_version_payload() {
        let frame = encode_frame(&7u8).unwrap();
        assert_eq!(frame, [0, 0, 0, 2, WIRE_VERSION, 7]);
        assert_eq!(
            decode_payload::<u8>(&frame[FRAME_HEADER_BYTES..]).unwrap(),
            7
        );
    }

    #[test]
    fn decoder_splits_frames_across_pushes() {
        let mut bytes = encode_frame(&1u8).unwrap();
        bytes.extend(encode_frame(&2u8).unwrap());
        let mut decoder = FrameDecoder::new();
        decoder.push(&bytes[..3]);
        assert!(decoder.next_frame().unwrap().is_none());
        decoder.push(&bytes[3..8]);
        assert_eq!(decoder.next_frame().unwrap(), Some(vec![WIRE_VERSION, 1]));
        assert!(decoder.next_frame().unwrap().is_none());
        decoder.push(&bytes[8..]);
        assert_eq!(decoder.next_frame().unwrap(), Some(vec![WIRE_VERSION, 2]));
        assert_eq!(decoder.buffered_len(), 0);
    }

    #[test]
    fn decoder_stays_failed_after_an_error() {
        let mut decoder = FrameDecoder::new();
        decoder.push(&[0, 0, 0, 0]);
        assert!(matches!(decoder.next_frame(), Err(WireError::EmptyFrame)));
        decoder.push(&encode_frame(&1u8).unwrap());
        assert!(matches!(decoder.next_frame(), Err(WireError::Malformed(_))));
        assert_eq!(decoder.buffered_len(), 0);
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let body = [WIRE_VERSION, 7, 8];
        assert!(matches!(
            decode_payload::<u8>(&body),
            Err(WireError::Malformed(_))
        ));
    }

    #[test]
    fn oversized_values_are_refused_on_encode() {
        let big = vec![0u8; FRAME_BYTES_MAX];
        assert!(matches!(
            encode_frame(&big),
            Err(WireError::Oversized { .. })
        ));
    }
}

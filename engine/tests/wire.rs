//! Wire protocol: framing properties over arbitrary bytes, and a server that closes a garbage
//! connection while it keeps serving a well-behaved one, on simulated and on real TCP, and a
//! slow-loris attack that is cut off by the per-peer and frame-deadline limits while new clients
//! are served.

use engine::env::{Net, NodeAddr};
use engine::wire::{
    decode_payload, encode_frame, read_frame, serve, Envelope, ErrorCode, ErrorResponse,
    FrameDecoder, Request, Response, RpcClient, RpcOptions, ServeOptions, WireError, WireLimits,
    FRAME_BYTES_MAX, FRAME_HEADER_BYTES, WIRE_VERSION,
};
use proptest::collection::vec;
use proptest::prelude::*;
use std::error::Error;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PORT: u16 = 9000;
const SEED: u64 = 0x5eed_0001;
/// How long a garbage connection may stay open before the test calls it a hang.
const CLOSE_WITHIN: Duration = Duration::from_secs(5);

async fn handler(request: Request) -> Response {
    match request {
        Request::Ping { nonce } => Response::Pong { nonce },
        Request::Echo { payload } => Response::Echo { payload },
        other => Response::Error(ErrorResponse::new(
            ErrorCode::Unsupported,
            other.kind(),
            false,
        )),
    }
}

fn header(len: u32) -> Vec<u8> {
    len.to_be_bytes().to_vec()
}

fn error_kind(error: &WireError) -> &'static str {
    match error {
        WireError::Oversized { .. } => "oversized",
        WireError::EmptyFrame => "empty",
        WireError::Version { .. } => "version",
        WireError::Malformed(_) => "malformed",
        WireError::Closed => "closed",
        WireError::Io(_) => "io",
        WireError::Timeout { .. } => "timeout",
        WireError::Connect { .. } => "connect",
    }
}

// ---- framing properties ----

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        any::<u64>().prop_map(|nonce| Request::Ping { nonce }),
        vec(any::<u8>(), 0..300).prop_map(|payload| Request::Echo { payload }),
    ]
}

/// Pieces of a byte stream: noise, valid frames, frames with plausible headers around random
/// bodies, and bare headers at and around the limits.
fn segment() -> impl Strategy<Value = Vec<u8>> {
    let max = FRAME_BYTES_MAX as u32;
    prop_oneof![
        vec(any::<u8>(), 0..64),
        (any::<u64>(), request()).prop_map(|(id, body)| {
            encode_frame(&Envelope { id, body }).expect("a small request encodes")
        }),
        (vec(any::<u8>(), 0..64), any::<bool>(), any::<u8>()).prop_map(
            |(payload, current, version)| {
                let version = if current { WIRE_VERSION } else { version };
                let mut frame = header(payload.len() as u32 + 1);
                frame.push(version);
                frame.extend(payload);
                frame
            }
        ),
        (0u32..16).prop_map(header),
        (max - 2..=max + 2).prop_map(header),
        any::<u32>().prop_map(header),
    ]
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Message(Envelope<Request>),
    PayloadError(&'static str),
    FramingError(&'static str),
}

/// Feeds `bytes` to a decoder in chunks of the given sizes (cycled) and decodes every frame.
fn decode_stream(bytes: &[u8], chunk_sizes: &[usize]) -> Vec<Outcome> {
    let mut decoder = FrameDecoder::new();
    let mut outcomes = Vec::new();
    let mut offset = 0;
    for size in chunk_sizes.iter().cycle() {
        if offset >= bytes.len() {
            break;
        }
        let end = (offset + size).min(bytes.len());
        decoder.push(&bytes[offset..end]);
        offset = end;
        loop {
            match decoder.next_frame() {
                Ok(None) => break,
                Ok(Some(body)) => {
                    assert!(!body.is_empty() && body.len() <= FRAME_BYTES_MAX);
                    outcomes.push(match decode_payload::<Envelope<Request>>(&body) {
                        Ok(message) => Outcome::Message(message),
                        Err(error) => Outcome::PayloadError(error_kind(&error)),
                    });
                }
                Err(error) => {
                    outcomes.push(Outcome::FramingError(error_kind(&error)));
                    return outcomes;
                }
            }
        }
    }
    outcomes
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_chunking_does_not_matter(
        segments in vec(segment(), 0..8),
        chunk_sizes in vec(1usize..40, 1..16),
    ) {
        let bytes = segments.concat();
        let chunked = decode_stream(&bytes, &chunk_sizes);
        let whole = decode_stream(&bytes, &[bytes.len().max(1)]);
        prop_assert_eq!(&chunked, &whole);
        for outcome in &chunked {
            match outcome {
                Outcome::Message(_) => {}
                Outcome::PayloadError(kind) => {
                    prop_assert!(["version", "malformed"].contains(kind), "{}", kind)
                }
                Outcome::FramingError(kind) => {
                    prop_assert!(["oversized", "empty"].contains(kind), "{}", kind)
                }
            }
        }
    }

    #[test]
    fn requests_round_trip_through_any_chunking(
        messages in vec((any::<u64>(), request()), 0..8),
        chunk_sizes in vec(1usize..40, 1..16),
    ) {
        let mut bytes = Vec::new();
        for (id, body) in &messages {
            bytes.extend(encode_frame(&Envelope { id: *id, body }).expect("encodes"));
        }
        let decoded = decode_stream(&bytes, &chunk_sizes);
        let expected: Vec<Outcome> = messages
            .into_iter()
            .map(|(id, body)| Outcome::Message(Envelope { id, body }))
            .collect();
        prop_assert_eq!(decoded, expected);
    }
}

#[test]
fn oversized_length_is_refused_before_the_body_is_buffered() {
    for len in [FRAME_BYTES_MAX as u32 + 1, u32::MAX] {
        let mut decoder = FrameDecoder::new();
        decoder.push(&header(len));
        let error = decoder.next_frame().expect_err("oversized length accepted");
        assert!(
            matches!(error, WireError::Oversized { len: got, max }
                if got == len as usize && max == FRAME_BYTES_MAX),
            "{error}"
        );
        assert_eq!(decoder.buffered_len(), 0);
    }
    // The limit itself is allowed: the decoder waits for the body.
    let mut decoder = FrameDecoder::new();
    decoder.push(&header(FRAME_BYTES_MAX as u32));
    assert!(decoder.next_frame().expect("limit is allowed").is_none());
    assert_eq!(decoder.buffered_len(), FRAME_HEADER_BYTES);
}

#[tokio::test]
async fn read_frame_refuses_oversized_length_without_waiting_for_the_body() {
    let (mut peer, mut local) = tokio::io::duplex(64);
    peer.write_all(&header(FRAME_BYTES_MAX as u32 + 1))
        .await
        .expect("duplex write");
    // `peer` stays open: a reader that waited for the body would hang here.
    let read = tokio::time::timeout(CLOSE_WITHIN, read_frame(&mut local)).await;
    let error = read
        .expect("read_frame waited for the body")
        .expect_err("oversized accepted");
    assert!(matches!(error, WireError::Oversized { .. }), "{error}");
}

#[tokio::test]
async fn zero_length_is_refused() {
    let mut decoder = FrameDecoder::new();
    decoder.push(&header(0));
    assert!(matches!(decoder.next_frame(), Err(WireError::EmptyFrame)));
    let error = read_frame(&mut &header(0)[..])
        .await
        .expect_err("empty frame accepted");
    assert!(matches!(error, WireError::EmptyFrame), "{error}");
}

#[test]
fn wrong_version_is_refused() {
    let mut frame = encode_frame(&Envelope {
        id: 1,
        body: Request::Ping { nonce: 7 },
    })
    .expect("encodes");
    frame[FRAME_HEADER_BYTES] = WIRE_VERSION + 1;
    let error = decode_payload::<Envelope<Request>>(&frame[FRAME_HEADER_BYTES..])
        .expect_err("foreign version accepted");
    assert!(
        matches!(error, WireError::Version { got, expected }
            if got == WIRE_VERSION + 1 && expected == WIRE_VERSION),
        "{error}"
    );
}

#[tokio::test]
async fn read_frame_tells_a_clean_close_from_a_cut_frame() {
    let error = read_frame(&mut &[][..]).await.expect_err("nothing to read");
    assert!(matches!(error, WireError::Closed), "{error}");
    let error = read_frame(&mut &[0, 0][..])
        .await
        .expect_err("half a header");
    assert!(matches!(&error, WireError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof));
    let error = read_frame(&mut &[0, 0, 0, 3, WIRE_VERSION][..])
        .await
        .expect_err("cut body");
    assert!(matches!(&error, WireError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof));
}

// ---- a server under garbage, on both sides of the seam ----

/// Byte strings that each break the protocol in one way.
fn garbage() -> Vec<(&'static str, Vec<u8>)> {
    let mut trailing = encode_frame(&Envelope {
        id: 9,
        body: Request::Ping { nonce: 9 },
    })
    .expect("encodes");
    trailing.push(0);
    let len = (trailing.len() - FRAME_HEADER_BYTES) as u32;
    trailing[..FRAME_HEADER_BYTES].copy_from_slice(&len.to_be_bytes());
    vec![
        (
            "oversized length",
            [header(FRAME_BYTES_MAX as u32 + 1), vec![1; 16]].concat(),
        ),
        ("zero length", header(0)),
        (
            "wrong version",
            [header(2), vec![WIRE_VERSION + 1, 0]].concat(),
        ),
        (
            "undecodable payload",
            [header(3), vec![WIRE_VERSION, 0xff, 0xff]].concat(),
        ),
        ("trailing bytes", trailing),
        ("text", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
    ]
}

fn rpc_options() -> RpcOptions {
    RpcOptions {
        request_timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_secs(30),
    }
}

/// The shared body: each garbage connection is closed by the server, and one well-behaved
/// connection is answered before, between and after them, without reconnecting.
async fn garbage_is_cut_off_and_good_clients_keep_working(
    net: Net,
    server: NodeAddr,
) -> Result<(), Box<dyn Error>> {
    let mut good = RpcClient::new(net, server.clone(), rpc_options());
    assert_eq!(
        good.call(&Request::Ping { nonce: 0 }).await?,
        Response::Pong { nonce: 0 }
    );
    for (nonce, (name, bytes)) in (1..).zip(garbage()) {
        let mut bad = net.connect(&server).await?;
        bad.write_all(&bytes).await?;
        let mut buffer = [0; 64];
        let read = tokio::time::timeout(CLOSE_WITHIN, bad.read(&mut buffer))
            .await
            .map_err(|_| format!("{name}: the server kept the connection open"))?;
        // A clean close (EOF) or a reset, if the server closed with our bytes unread.
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "{name}: expected a close, got {read:?}"
        );
        let response = good.call(&Request::Ping { nonce }).await?;
        assert_eq!(response, Response::Pong { nonce }, "after {name}");
        assert!(
            good.is_connected(),
            "after {name}: the good connection was dropped"
        );
    }
    let payload = b"still here".to_vec();
    let response = good
        .call(&Request::Echo {
            payload: payload.clone(),
        })
        .await?;
    assert_eq!(response, Response::Echo { payload });
    Ok(())
}

fn sim_with_server() -> turmoil::Sim<'static> {
    let mut sim = turmoil::Builder::new().rng_seed(SEED).build();
    sim.host("server", || async {
        let listener = Net::Sim.bind(&NodeAddr::new("server", PORT)).await?;
        serve(listener, handler, ServeOptions::default()).await;
        Ok(())
    });
    sim
}

#[test]
fn sim_server_closes_garbage_connections_and_keeps_serving() -> turmoil::Result {
    let mut sim = sim_with_server();
    sim.client("client", async {
        garbage_is_cut_off_and_good_clients_keep_working(Net::Sim, NodeAddr::new("server", PORT))
            .await
    });
    sim.run()
}

#[tokio::test]
async fn real_server_closes_garbage_connections_and_keeps_serving() -> Result<(), Box<dyn Error>> {
    let listener = Net::Real.bind(&NodeAddr::new("127.0.0.1", 0)).await?;
    let port = listener.local_port()?;
    let server = tokio::spawn(serve(listener, handler, ServeOptions::default()));
    let result = garbage_is_cut_off_and_good_clients_keep_working(
        Net::Real,
        NodeAddr::new("127.0.0.1", port),
    )
    .await;
    server.abort();
    result
}

#[test]
fn sim_client_times_out_in_a_partition_and_reconnects_after_repair() -> turmoil::Result {
    let mut sim = sim_with_server();
    sim.client("client", async {
        let options = rpc_options();
        let mut client = RpcClient::new(Net::Sim, NodeAddr::new("server", PORT), options);
        assert_eq!(
            client.call(&Request::Ping { nonce: 1 }).await?,
            Response::Pong { nonce: 1 }
        );

        // In-flight data is dropped and never retransmitted: the call must time out, and the
        // dead stream must go with it.
        turmoil::partition("client", "server");
        let started = tokio::time::Instant::now();
        let error = client
            .call(&Request::Ping { nonce: 2 })
            .await
            .expect_err("answered");
        assert!(matches!(error, WireError::Timeout { .. }), "{error}");
        assert!(started.elapsed() >= options.request_timeout);
        assert!(!client.is_connected());

        // Still partitioned: turmoil refuses the connect, so the request is never sent.
        let error = client
            .call(&Request::Ping { nonce: 3 })
            .await
            .expect_err("answered");
        assert!(matches!(error, WireError::Connect { .. }), "{error}");
        assert!(error.is_retriable());

        turmoil::repair("client", "server");
        assert_eq!(
            client.call(&Request::Ping { nonce: 4 }).await?,
            Response::Pong { nonce: 4 }
        );
        assert!(client.is_connected());
        Ok(())
    });
    sim.run()
}

// ---- slow-loris: many connections trickling bytes, on both sides of the seam ----

/// The server's limits scaled down so the attack is small and quick.
fn tight_limits() -> ServeOptions {
    ServeOptions {
        limits: WireLimits {
            connections_per_peer_max: LORIS_PER_PEER,
            frame_deadline: LORIS_FRAME_DEADLINE,
            partial_frame_bytes_max: LORIS_BUDGET_BYTES,
        },
        ..ServeOptions::default()
    }
}

const LORIS_PER_PEER: usize = 4;
const LORIS_FRAME_DEADLINE: Duration = Duration::from_millis(1000);
/// Four attackers' first bursts fill it exactly.
const LORIS_BUDGET_BYTES: usize = 4 * LORIS_BURST_BYTES;
const LORIS_BURST_BYTES: usize = 8 * 1024;
/// Connections the attacker tries to open (the old attack opened hundreds).
const LORIS_CONNECTIONS: usize = 3 * LORIS_PER_PEER;

/// A stream of either seam, for the attacker's connections.
trait Conn: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Conn for T {}

/// Whether the server closed `conn`: a read that ends (EOF or reset) within `within`. Bytes
/// the server sends are not expected; a timeout means it is still open.
async fn closed_within(conn: &mut Box<dyn Conn>, within: Duration) -> bool {
    let mut buffer = [0; 16];
    matches!(
        tokio::time::timeout(within, conn.read(&mut buffer)).await,
        Ok(Ok(0) | Err(_))
    )
}

/// The attack from one address: `LORIS_CONNECTIONS` connections, each starting a 64 KiB frame
/// with a burst, then one byte every 100 ms. Only `LORIS_PER_PEER` are kept, and those are
/// closed by the frame deadline although they never fall silent.
async fn slow_loris<F, Fut>(open: F) -> Result<(), Box<dyn Error>>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = std::io::Result<Box<dyn Conn>>>,
{
    let mut kept = Vec::new();
    let mut refused = 0;
    for _ in 0..LORIS_CONNECTIONS {
        let mut conn = open().await?;
        let mut start = header(64 * 1024);
        start.extend(vec![WIRE_VERSION; LORIS_BURST_BYTES - FRAME_HEADER_BYTES]);
        // A refused connection may already be closed: the write may fail.
        let _ = conn.write_all(&start).await;
        if closed_within(&mut conn, Duration::from_millis(50)).await {
            refused += 1;
        } else {
            kept.push(conn);
        }
    }
    assert_eq!(
        kept.len(),
        LORIS_PER_PEER,
        "one address holds at most the per-peer limit"
    );
    assert_eq!(refused, LORIS_CONNECTIONS - LORIS_PER_PEER);
    let started = tokio::time::Instant::now();
    let mut open = kept.len();
    while open > 0 {
        assert!(
            started.elapsed() < LORIS_FRAME_DEADLINE + Duration::from_secs(1),
            "{open} trickling connections outlived the frame deadline"
        );
        open = 0;
        for conn in &mut kept {
            if conn.write_all(&[WIRE_VERSION]).await.is_ok()
                && !closed_within(conn, Duration::from_millis(25)).await
            {
                open += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// A new client from another address, during the attack: every call is answered (some may
/// wait for the attackers' frame budget, never past their frame deadline).
async fn new_client_is_served(net: Net, server: NodeAddr) -> Result<(), Box<dyn Error>> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let options = RpcOptions {
        request_timeout: LORIS_FRAME_DEADLINE * 3,
        ..rpc_options()
    };
    for nonce in 0..8 {
        let mut fresh = RpcClient::new(net, server.clone(), options);
        let response = fresh.call(&Request::Ping { nonce }).await?;
        assert_eq!(response, Response::Pong { nonce });
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    Ok(())
}

#[test]
fn sim_slow_loris_is_cut_off_and_new_clients_are_served() -> turmoil::Result {
    let mut sim = turmoil::Builder::new().rng_seed(SEED).build();
    sim.host("server", || async {
        let listener = Net::Sim.bind(&NodeAddr::new("server", PORT)).await?;
        serve(listener, handler, tight_limits()).await;
        Ok(())
    });
    sim.client("attacker", async {
        slow_loris(|| async {
            let conn = Net::Sim.connect(&NodeAddr::new("server", PORT)).await?;
            Ok(Box::new(conn) as Box<dyn Conn>)
        })
        .await
    });
    sim.client("client", async {
        new_client_is_served(Net::Sim, NodeAddr::new("server", PORT)).await
    });
    sim.run()
}

#[tokio::test]
async fn real_slow_loris_is_cut_off_and_new_clients_are_served() -> Result<(), Box<dyn Error>> {
    let listener = Net::Real.bind(&NodeAddr::new("127.0.0.1", 0)).await?;
    let port = listener.local_port()?;
    let server = tokio::spawn(serve(listener, handler, tight_limits()));
    // The attacker speaks from another loopback address, as another machine would.
    let attack = tokio::spawn(async move {
        slow_loris(|| async move {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(([127, 0, 0, 2], 0).into())?;
            let conn = socket.connect(([127, 0, 0, 1], port).into()).await?;
            Ok(Box::new(conn) as Box<dyn Conn>)
        })
        .await
        .map_err(|error| error.to_string())
    });
    let served = new_client_is_served(Net::Real, NodeAddr::new("127.0.0.1", port)).await;
    let attacked = attack.await?;
    server.abort();
    served?;
    attacked.map_err(|error| error.into())
}

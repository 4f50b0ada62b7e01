//! `faultline bench proxy`: what real mode's TCP proxy (`harness::real::proxy`) adds to a
//! round trip. An echo server on loopback is pinged with small messages, directly and through
//! the proxy with no latency configured; the table gives both distributions and the difference.

use harness::real::proxy::{Proxy, Route, SharedConditions};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Bytes per ping: a small request, as most of our protocol's are.
const PING_BYTES: usize = 100;

#[derive(Clone, Debug, clap::Args)]
pub struct ProxyBench {
    /// Round trips measured per path (after 100 to warm up).
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(100..=1_000_000))]
    pub pings: u32,
}

async fn echo(listener: TcpListener) {
    while let Ok((mut stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let mut buffer = [0u8; PING_BYTES];
            while stream.read_exact(&mut buffer).await.is_ok() {
                if stream.write_all(&buffer).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// Round-trip times in microseconds, sorted.
async fn ping(addr: SocketAddr, pings: u32) -> std::io::Result<Vec<u64>> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut buffer = [7u8; PING_BYTES];
    let mut times = Vec::with_capacity(pings as usize);
    for n in 0..pings + 100 {
        // Real-mode measurement: the wall clock is what is measured.
        #[allow(clippy::disallowed_methods)]
        let started = std::time::Instant::now();
        stream.write_all(&buffer).await?;
        stream.read_exact(&mut buffer).await?;
        if n >= 100 {
            times.push(started.elapsed().as_micros() as u64);
        }
    }
    times.sort_unstable();
    Ok(times)
}

fn quantile(sorted: &[u64], q: f64) -> u64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

pub fn run(bench: ProxyBench) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (direct, proxied) = runtime.block_on(async {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let server = listener.local_addr()?;
        tokio::spawn(echo(listener));
        // A free port for the proxy: bind, read, release.
        let port = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        let public: SocketAddr = (Ipv4Addr::LOCALHOST, port).into();
        let route = Route {
            public,
            private: server,
        };
        let proxy = Proxy::start(None, vec![route], SharedConditions::default(), 1)?;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let direct = ping(server, bench.pings).await?;
        let proxied = ping(public, bench.pings).await?;
        drop(proxy);
        anyhow::Ok((direct, proxied))
    })?;
    println!(
        "faultline bench proxy: {} round trips of {PING_BYTES} bytes on loopback",
        bench.pings
    );
    println!(
        "{:<10} {:>8} {:>8} {:>8}",
        "path", "p50 µs", "p99 µs", "max µs"
    );
    for (name, times) in [("direct", &direct), ("proxied", &proxied)] {
        println!(
            "{name:<10} {:>8} {:>8} {:>8}",
            quantile(times, 0.5),
            quantile(times, 0.99),
            times[times.len() - 1]
        );
    }
    println!(
        "the proxy adds {} µs at p50 and {} µs at p99 per round trip (two forwarded chunks)",
        quantile(&proxied, 0.5).saturating_sub(quantile(&direct, 0.5)),
        quantile(&proxied, 0.99).saturating_sub(quantile(&direct, 0.99))
    );
    Ok(ExitCode::SUCCESS)
}

//! TCP over the seam: real tokio sockets or turmoil's simulated ones, behind one listener and one
//! stream type so the wire and server code never knows which.
//!
//! Fault model (turmoil 0.7.2, design.md section 5): a partition silently drops in-flight data
//! and the connection never recovers; connecting to a partitioned host is refused, to a crashed
//! host it hangs. Callers therefore put a timeout on every connect and every request.

use crate::env::NodeAddr;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Which network a node uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Net {
    Real,
    Sim,
}

impl Net {
    /// Listens on `addr`. In simulation the host part is ignored: a turmoil host listens on all
    /// of its own addresses.
    pub async fn bind(&self, addr: &NodeAddr) -> io::Result<Listener> {
        match self {
            Net::Real => {
                let listener =
                    tokio::net::TcpListener::bind((addr.host.as_str(), addr.port)).await?;
                Ok(Listener::Real(listener))
            }
            Net::Sim => {
                let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
                let listener = turmoil::net::TcpListener::bind((any, addr.port)).await?;
                Ok(Listener::Sim(listener))
            }
        }
    }

    /// Opens a connection. No timeout here: callers wrap it (a crashed sim host never answers).
    pub async fn connect(&self, addr: &NodeAddr) -> io::Result<Stream> {
        match self {
            Net::Real => {
                let stream =
                    tokio::net::TcpStream::connect((addr.host.as_str(), addr.port)).await?;
                stream.set_nodelay(true)?;
                Ok(Stream::Real(stream))
            }
            Net::Sim => {
                let stream =
                    turmoil::net::TcpStream::connect((addr.host.as_str(), addr.port)).await?;
                Ok(Stream::Sim(stream))
            }
        }
    }
}

pub enum Listener {
    Real(tokio::net::TcpListener),
    Sim(turmoil::net::TcpListener),
}

impl Listener {
    /// Accepts one connection; the string names the peer for log lines.
    pub async fn accept(&self) -> io::Result<(Stream, String)> {
        match self {
            Listener::Real(listener) => {
                let (stream, peer) = listener.accept().await?;
                stream.set_nodelay(true)?;
                Ok((Stream::Real(stream), peer.to_string()))
            }
            Listener::Sim(listener) => {
                let (stream, peer) = listener.accept().await?;
                Ok((Stream::Sim(stream), peer.to_string()))
            }
        }
    }

    /// The bound port (useful after binding port 0 in real mode).
    pub fn local_port(&self) -> io::Result<u16> {
        match self {
            Listener::Real(listener) => Ok(listener.local_addr()?.port()),
            Listener::Sim(listener) => Ok(listener.local_addr()?.port()),
        }
    }
}

pub enum Stream {
    Real(tokio::net::TcpStream),
    Sim(turmoil::net::TcpStream),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Real(stream) => Pin::new(stream).poll_read(cx, buf),
            Stream::Sim(stream) => Pin::new(stream).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Real(stream) => Pin::new(stream).poll_write(cx, buf),
            Stream::Sim(stream) => Pin::new(stream).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Real(stream) => Pin::new(stream).poll_flush(cx),
            Stream::Sim(stream) => Pin::new(stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Real(stream) => Pin::new(stream).poll_shutdown(cx),
            Stream::Sim(stream) => Pin::new(stream).poll_shutdown(cx),
        }
    }
}

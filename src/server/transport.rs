//! What a connection runs over: a TCP socket, or TLS on one.
//!
//! The connection is generic over [`Transport`], so the PLAINTEXT path keeps
//! `TcpStream::split` (two borrowed halves, no lock, vectored writes straight to the
//! socket) and pays nothing for TLS existing; TLS streams are split with
//! `tokio::io::split`, whose lock is uncontended (one task owns both halves).

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

pub trait Transport: AsyncWrite + Unpin + Send + 'static {
    type Reader<'a>: AsyncRead + Unpin + Send
    where
        Self: 'a;
    type Writer<'a>: AsyncWrite + Unpin + Send
    where
        Self: 'a;
    fn halves(&mut self) -> (Self::Reader<'_>, Self::Writer<'_>);
}

impl Transport for TcpStream {
    type Reader<'a> = tokio::net::tcp::ReadHalf<'a>;
    type Writer<'a> = tokio::net::tcp::WriteHalf<'a>;
    fn halves(&mut self) -> (Self::Reader<'_>, Self::Writer<'_>) {
        self.split()
    }
}

impl Transport for TlsStream<TcpStream> {
    type Reader<'a> = tokio::io::ReadHalf<&'a mut TlsStream<TcpStream>>;
    type Writer<'a> = tokio::io::WriteHalf<&'a mut TlsStream<TcpStream>>;
    fn halves(&mut self) -> (Self::Reader<'_>, Self::Writer<'_>) {
        tokio::io::split(self)
    }
}

/// An in-process pipe: the fuzz targets (`crate::fuzzing`) drive a real connection
/// through one, with no socket.
impl Transport for tokio::io::DuplexStream {
    type Reader<'a> = tokio::io::ReadHalf<&'a mut tokio::io::DuplexStream>;
    type Writer<'a> = tokio::io::WriteHalf<&'a mut tokio::io::DuplexStream>;
    fn halves(&mut self) -> (Self::Reader<'_>, Self::Writer<'_>) {
        tokio::io::split(self)
    }
}

//! Rank 0 hands a few bytes (NCCL's unique id) to every other rank over TCP at
//! `MASTER_ADDR:MASTER_PORT`, as torchrun's store does for PyTorch: rank 0 listens, the
//! others connect (retrying while rank 0 is not up yet) until a timeout.
//!
//! The exchange: a client sends `WICK`, its rank (u32, little-endian); rank 0 answers
//! with the payload's length (u32) and the payload. Standard library only.

use crate::{Error, Result};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

const MAGIC: &[u8; 4] = b"WICK";

/// Rank 0: listens on `addr:port` and gives `payload` to each of `others` ranks that
/// connect, returning once all have it.
///
/// # Errors
/// [`Error::Setup`] when the port cannot be bound or not every rank came within
/// `timeout` (naming those that did not).
pub fn serve(
    addr: &str,
    port: u16,
    payload: &[u8],
    others: usize,
    timeout: Duration,
) -> Result<()> {
    let listener = TcpListener::bind((addr, port))
        .or_else(|_| TcpListener::bind(("0.0.0.0", port)))
        .map_err(|e| {
            Error::Setup(format!(
                "rank 0 cannot listen on {addr}:{port} (MASTER_ADDR:MASTER_PORT): {e}"
            ))
        })?;
    listener.set_nonblocking(true).map_err(io("listen"))?;
    let deadline = Instant::now() + timeout;
    let mut served = vec![false; others + 1];
    served[0] = true;
    while served.iter().any(|s| !s) {
        match listener.accept() {
            Ok((stream, _)) => {
                if let Some(rank) = answer(stream, payload) {
                    if let Some(s) = served.get_mut(rank) {
                        *s = true;
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    let missing: Vec<String> = (0..served.len())
                        .filter(|&r| !served[r])
                        .map(|r| r.to_string())
                        .collect();
                    return Err(Error::Setup(format!(
                        "rank 0 waited {} s on {addr}:{port} for ranks {} that never connected",
                        timeout.as_secs(),
                        missing.join(", ")
                    )));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(io("accept")(e)),
        }
    }
    Ok(())
}

/// Reads a client's greeting and sends the payload; the client's rank, or `None` for
/// a connection that is not a wick rank.
fn answer(mut stream: TcpStream, payload: &[u8]) -> Option<usize> {
    stream.set_nonblocking(false).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut hello = [0u8; 8];
    stream.read_exact(&mut hello).ok()?;
    if &hello[..4] != MAGIC {
        return None;
    }
    let rank = u32::from_le_bytes(hello[4..].try_into().ok()?) as usize;
    let len = u32::try_from(payload.len()).ok()?.to_le_bytes();
    stream.write_all(&len).ok()?;
    stream.write_all(payload).ok()?;
    Some(rank)
}

/// Rank `rank` (not 0): fetches rank 0's payload from `addr:port`, retrying until
/// `timeout`.
///
/// # Errors
/// [`Error::Setup`] when rank 0 could not be reached in time (naming the address).
pub fn fetch(addr: &str, port: u16, rank: usize, timeout: Duration) -> Result<Vec<u8>> {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    while Instant::now() < deadline {
        match try_fetch(addr, port, rank) {
            Ok(bytes) => return Ok(bytes),
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(Error::Setup(format!(
        "rank {rank} could not reach rank 0 at {addr}:{port} (MASTER_ADDR:MASTER_PORT) in {} s: {last}",
        timeout.as_secs()
    )))
}

fn try_fetch(addr: &str, port: u16, rank: usize) -> std::io::Result<Vec<u8>> {
    let target = (addr, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("no address"))?;
    let mut stream = TcpStream::connect_timeout(&target, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let rank = u32::try_from(rank).map_err(std::io::Error::other)?;
    stream.write_all(MAGIC)?;
    stream.write_all(&rank.to_le_bytes())?;
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let len = u32::from_le_bytes(len) as usize;
    if len > 1 << 20 {
        return Err(std::io::Error::other(
            "an answer too large for a rendezvous",
        ));
    }
    let mut bytes = vec![0u8; len];
    stream.read_exact(&mut bytes)?;
    Ok(bytes)
}

fn io(what: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |e| Error::Setup(format!("rendezvous ({what}): {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn free_port() -> u16 {
        TcpListener::bind(("127.0.0.1", 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    #[test]
    fn every_rank_gets_rank_zeros_bytes_even_when_it_comes_first() {
        let port = free_port();
        let payload: Vec<u8> = (0..128).map(|i| (i * 7) as u8).collect();
        // the clients start before rank 0 listens: they retry
        let clients: Vec<_> = (1..4)
            .map(|r| {
                std::thread::spawn(move || fetch("127.0.0.1", port, r, Duration::from_secs(20)))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        serve("127.0.0.1", port, &payload, 3, Duration::from_secs(20)).unwrap();
        for c in clients {
            assert_eq!(c.join().unwrap().unwrap(), payload);
        }
    }

    #[test]
    fn a_rank_that_never_comes_is_named() {
        let port = free_port();
        let one = std::thread::spawn(move || fetch("127.0.0.1", port, 1, Duration::from_secs(10)));
        let e = serve("127.0.0.1", port, b"id", 2, Duration::from_millis(1500))
            .unwrap_err()
            .to_string();
        assert!(e.contains("ranks 2 that never connected"), "{e}");
        assert_eq!(one.join().unwrap().unwrap(), b"id");
    }

    #[test]
    fn no_rank_zero_is_a_timeout_naming_the_address() {
        let port = free_port();
        let e = fetch("127.0.0.1", port, 1, Duration::from_millis(400))
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("127.0.0.1:{port}")), "{e}");
    }
}

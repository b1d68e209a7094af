//! What the accept loop does when accepting itself fails: out of file descriptors
//! (EMFILE, ENFILE) a waiting connection is accepted into a descriptor kept in reserve
//! and closed at once, so its client hears "no" now instead of waiting in the listen
//! backlog until it times out; and accept errors and refusals are logged at a bounded
//! rate, so a process out of descriptors (or a flood of refused connections) does not
//! also flood its log.
//!
//! It owns the reserve descriptor (one per process, on `/dev/null`) and the start-up
//! raise of the descriptor limit, and never reads from or writes to a socket it
//! refuses.

use std::fs::File;
use std::mem::ManuallyDrop;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::net::TcpListener;

/// The reserve descriptor, shared by every listener's accept loop: whoever needs it
/// takes the lock, so two loops cannot both count on the one free slot.
static RESERVE: Mutex<Option<File>> = Mutex::new(None);

/// Takes the reserve descriptor if it is not held yet. Called when the server starts,
/// before any connection, so that the reserve gets a low descriptor number: a
/// descriptor numbered at or above a lowered limit could not be reused by accept.
pub fn reserve_descriptor() {
    let mut reserve = RESERVE.lock();
    if reserve.is_none() {
        *reserve = File::open("/dev/null").ok();
    }
}

/// The process's file-descriptor limit after [`raise_descriptor_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DescriptorLimit {
    pub soft_before: u64,
    pub soft: u64,
    pub hard: u64,
}

/// Raises the soft RLIMIT_NOFILE to the hard limit, as Go's runtime does at start-up:
/// the soft limit (often 1,024) is a compatibility default for `select(2)` users, and a
/// broker holding thousands of partitions and connections needs what the administrator
/// allowed. Returns what it got (unchanged if raising fails).
pub fn raise_descriptor_limit() -> std::io::Result<DescriptorLimit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit to write into.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let soft_before = lim.rlim_cur;
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: a valid rlimit, read above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = lim.rlim_max;
        }
    }
    Ok(DescriptorLimit {
        soft_before,
        soft: lim.rlim_cur,
        hard: lim.rlim_max,
    })
}

pub fn is_out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
}

/// What [`refuse_one`] did.
#[derive(Debug)]
pub enum Refusal {
    /// A waiting connection from this peer was accepted and closed.
    Refused(SocketAddr),
    /// No connection was waiting after all (another loop took it).
    NoneWaiting,
    /// No descriptor could be freed for it (no reserve, or the freed one was taken
    /// again or is above the limit): the caller backs off.
    Failed(std::io::Error),
}

/// Frees the reserve descriptor, accepts one waiting connection into its place, closes
/// that connection and takes the reserve again, all without yielding: the slot is free
/// for a few system calls only, so another thread of this process opening a file in
/// between is unlikely, and if it happens accept fails again and the caller backs off.
///
/// The accept is the listener's own `accept(2)` on its non-blocking socket (tokio's
/// readiness is left as it is: the next `accept().await` finds out for itself).
pub fn refuse_one(listener: &TcpListener) -> Refusal {
    let mut reserve = RESERVE.lock();
    let Some(spare) = reserve.take() else {
        *reserve = File::open("/dev/null").ok();
        return Refusal::Failed(std::io::Error::from_raw_os_error(libc::EMFILE));
    };
    drop(spare);
    // SAFETY: the std listener borrows tokio's descriptor only for this call and is
    // never dropped (ManuallyDrop), so the descriptor is not closed twice.
    let std_listener =
        ManuallyDrop::new(unsafe { std::net::TcpListener::from_raw_fd(listener.as_raw_fd()) });
    let accepted = std_listener.accept();
    let refusal = match accepted {
        Ok((stream, peer)) => {
            // Closed before anything is read: a client that already sent its first
            // request gets a reset, the others an EOF.
            drop(stream);
            Refusal::Refused(peer)
        }
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Refusal::NoneWaiting,
        Err(e) => Refusal::Failed(e),
    };
    *reserve = File::open("/dev/null").ok();
    refusal
}

/// A token bucket for log lines: `burst` lines at once, then one per `every`; lines
/// beyond are counted and the count is given with the next line that is written.
pub struct LogLimiter {
    burst: u32,
    every: Duration,
    tokens: u32,
    refilled: Instant,
    suppressed: u64,
}

impl LogLimiter {
    pub fn new(burst: u32, every: Duration) -> LogLimiter {
        LogLimiter {
            burst,
            every,
            tokens: burst,
            refilled: Instant::now(),
            suppressed: 0,
        }
    }

    /// `Some(lines left out since the last line written)` if this line may be
    /// written, `None` if it is to be left out.
    pub fn admit(&mut self, now: Instant) -> Option<u64> {
        let earned =
            now.saturating_duration_since(self.refilled).as_nanos() / self.every.as_nanos().max(1);
        if earned > 0 {
            let earned = u32::try_from(earned).unwrap_or(u32::MAX);
            self.tokens = self.tokens.saturating_add(earned).min(self.burst);
            self.refilled = now;
        }
        if self.tokens == 0 {
            self.suppressed += 1;
            return None;
        }
        self.tokens -= 1;
        Some(std::mem::take(&mut self.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_limiter_lets_a_burst_through_then_one_line_per_period() {
        let mut l = LogLimiter::new(3, Duration::from_secs(1));
        let t0 = l.refilled;
        assert_eq!(l.admit(t0), Some(0));
        assert_eq!(l.admit(t0), Some(0));
        assert_eq!(l.admit(t0), Some(0));
        assert_eq!(l.admit(t0), None);
        assert_eq!(l.admit(t0 + Duration::from_millis(500)), None);
        // The next line written says how many were left out.
        assert_eq!(l.admit(t0 + Duration::from_millis(1000)), Some(2));
        assert_eq!(l.admit(t0 + Duration::from_millis(1100)), None);
        // A long quiet time refills the burst, no more.
        let later = t0 + Duration::from_secs(100);
        assert_eq!(l.admit(later), Some(1));
        assert_eq!(l.admit(later), Some(0));
        assert_eq!(l.admit(later), Some(0));
        assert_eq!(l.admit(later), None);
    }

    #[test]
    fn the_soft_descriptor_limit_is_raised_to_the_hard_one() {
        let got = raise_descriptor_limit().unwrap();
        assert_eq!(got.soft, got.hard);
        assert!(got.soft >= got.soft_before);
        assert_eq!(raise_descriptor_limit().unwrap().soft_before, got.soft);
    }

    #[tokio::test]
    async fn refuse_one_closes_a_waiting_connection_and_keeps_the_reserve() {
        reserve_descriptor();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(addr).unwrap();
        let local = client.local_addr().unwrap();
        // The connection is in the backlog once connect returns (the kernel completes
        // the handshake), so the accept below finds it.
        match refuse_one(&listener) {
            Refusal::Refused(peer) => assert_eq!(peer, local),
            other => panic!("expected a refusal, got {other:?}"),
        }
        let mut buf = [0u8; 1];
        use std::io::Read;
        client
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        assert_eq!((&client).read(&mut buf).unwrap_or(0), 0, "closed");
        assert!(matches!(refuse_one(&listener), Refusal::NoneWaiting));
        assert!(RESERVE.lock().is_some(), "the reserve is taken again");
    }
}

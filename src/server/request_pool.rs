//! `queued.max.request.bytes`: one budget of request bytes shared by every connection,
//! as Kafka's memory pool. A connection that has read a request's size but not yet
//! its body waits here for that many bytes before it reads on, and gives them back
//! once the request has been handled; while it waits it reads nothing, so TCP
//! pushes back on its client.
//!
//! The wait is first come, first served (tokio's semaphore is fair): a connection
//! flooding big requests queues behind the others instead of taking every byte as it
//! frees, and a request bigger than the whole budget waits for all of it rather than
//! forever. A request that arrives whole in one read does not ask (it is already in
//! memory, and small ones are the common case, kept off the pool's lock). This module
//! never touches a socket.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct RequestPool {
    bytes: Arc<Semaphore>,
    capacity: u32,
}

/// Bytes of the pool held for one request; given back when dropped.
pub type RequestPermit = OwnedSemaphorePermit;

/// A wait for bytes that keeps its place in the queue across the connection loop's
/// turns (it is kept, not re-created, while the connection writes answers).
pub type Acquiring = Pin<Box<dyn Future<Output = RequestPermit> + Send>>;

impl RequestPool {
    /// `None` when `queued.max.request.bytes` is not positive (no bound, Kafka's -1).
    pub fn from_setting(queued_max_request_bytes: i64) -> Option<Arc<RequestPool>> {
        (queued_max_request_bytes > 0).then(|| {
            let capacity = queued_max_request_bytes.min(u32::MAX as i64) as u32;
            Arc::new(RequestPool {
                bytes: Arc::new(Semaphore::new(capacity as usize)),
                capacity,
            })
        })
    }

    /// Waits for `bytes` (at most the whole pool) in arrival order.
    pub fn acquire(&self, bytes: usize) -> Acquiring {
        let n = bytes.min(self.capacity as usize) as u32;
        let sem = self.bytes.clone();
        Box::pin(async move {
            sem.acquire_many_owned(n)
                .await
                .expect("the request pool's semaphore is never closed")
        })
    }

    /// Bytes not held by any request (for tests and the log).
    pub fn available(&self) -> usize {
        self.bytes.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[test]
    fn a_non_positive_setting_means_no_pool() {
        assert!(RequestPool::from_setting(-1).is_none());
        assert!(RequestPool::from_setting(0).is_none());
        assert_eq!(RequestPool::from_setting(10).unwrap().available(), 10);
    }

    #[tokio::test]
    async fn waiters_are_served_in_arrival_order_and_a_huge_request_takes_the_whole_pool() {
        let pool = RequestPool::from_setting(100).unwrap();
        let big = pool.acquire(1_000_000).await;
        assert_eq!(pool.available(), 0);
        // A flooder asks for 60 first, then a small request for 10: when the big one
        // is given back the flooder is served first and the small one right after,
        // never overtaken by the flooder's next request.
        let mut flood = pool.acquire(60);
        let mut small = pool.acquire(10);
        let mut flood_again = pool.acquire(60);
        // Polled once each, in this order: that is their place in the queue.
        assert!((&mut flood).now_or_never().is_none());
        assert!((&mut small).now_or_never().is_none());
        drop(big);
        let f1 = flood.await;
        let s = small.await;
        assert_eq!(pool.available(), 30);
        assert!(
            (&mut flood_again).now_or_never().is_none(),
            "60 more do not fit in 30"
        );
        drop(f1);
        drop(s);
        let _f2 = flood_again.await;
        assert_eq!(pool.available(), 40);
    }
}

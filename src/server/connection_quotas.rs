//! Connection accounting, Kafka's `ConnectionQuotas`: how many client connections are
//! open, in all and per peer IP address, against `max.connections`,
//! `max.connections.per.ip` and `max.connections.per.ip.overrides`.
//!
//! The listener asks [`ConnectionQuotas::try_acquire`] before it spawns a connection
//! task and moves the [`ConnectionSlot`] it gets into that task. The slot gives itself
//! back when dropped, so a connection that ends by an error, an early return or a panic
//! can never leak one. This module only counts: it never touches a socket, never logs
//! (the caller decides what a refusal is worth) and never holds its lock across an
//! `.await`.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::config::BrokerConfig;

pub struct ConnectionQuotas {
    max_connections: usize,
    max_connections_per_ip: usize,
    per_ip_overrides: BTreeMap<IpAddr, usize>,
    /// One lock over both counts, so that checking both limits and taking the slot is
    /// one step: two connections accepted at once can never both take the last slot.
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    /// Only addresses with a live connection, so that many short-lived clients from
    /// different addresses do not grow the map for good.
    per_ip: HashMap<IpAddr, usize>,
}

/// Why a new connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The broker already holds `max.connections`.
    Total { max_connections: usize },
    /// The peer's address already holds its limit; `overridden` when the limit comes
    /// from `max.connections.per.ip.overrides`.
    PerIp {
        ip: IpAddr,
        max_connections: usize,
        overridden: bool,
    },
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::Total { max_connections } => {
                write!(f, "max.connections ({max_connections}) reached")
            }
            Refused::PerIp {
                ip,
                max_connections,
                overridden,
            } => {
                let setting = if *overridden {
                    "max.connections.per.ip.overrides"
                } else {
                    "max.connections.per.ip"
                };
                write!(
                    f,
                    "{ip} already has {setting} ({max_connections}) connections"
                )
            }
        }
    }
}

/// One open connection's place in the counts; dropping it gives the place back.
#[must_use = "dropping the slot gives it back at once"]
pub struct ConnectionSlot {
    quotas: Arc<ConnectionQuotas>,
    ip: IpAddr,
}

impl ConnectionQuotas {
    pub fn new(
        max_connections: usize,
        max_connections_per_ip: usize,
        per_ip_overrides: BTreeMap<IpAddr, usize>,
    ) -> Arc<ConnectionQuotas> {
        Arc::new(ConnectionQuotas {
            max_connections,
            max_connections_per_ip,
            per_ip_overrides: per_ip_overrides
                .into_iter()
                .map(|(ip, max)| (ip.to_canonical(), max))
                .collect(),
            counts: Mutex::default(),
        })
    }

    pub fn from_config(config: &BrokerConfig) -> Arc<ConnectionQuotas> {
        Self::new(
            config.max_connections,
            config.max_connections_per_ip,
            config.max_connections_per_ip_overrides.clone(),
        )
    }

    /// Takes a slot for a new connection from `ip`, or says which limit it would break.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionSlot, Refused> {
        // An IPv4 client of an IPv6 listener shows up as ::ffff:a.b.c.d; it is the
        // same address as when it connects to an IPv4 listener.
        let ip = ip.to_canonical();
        let (max_per_ip, overridden) = match self.per_ip_overrides.get(&ip) {
            Some(&max) => (max, true),
            None => (self.max_connections_per_ip, false),
        };
        let mut counts = self.counts.lock();
        if counts.total >= self.max_connections {
            return Err(Refused::Total {
                max_connections: self.max_connections,
            });
        }
        let from_ip = counts.per_ip.get(&ip).copied().unwrap_or(0);
        if from_ip >= max_per_ip {
            return Err(Refused::PerIp {
                ip,
                max_connections: max_per_ip,
                overridden,
            });
        }
        counts.total += 1;
        *counts.per_ip.entry(ip).or_insert(0) += 1;
        Ok(ConnectionSlot {
            quotas: self.clone(),
            ip,
        })
    }

    /// Connections holding a slot now.
    pub fn total(&self) -> usize {
        self.counts.lock().total
    }

    /// Connections from `ip` holding a slot now.
    pub fn count(&self, ip: IpAddr) -> usize {
        let ip = ip.to_canonical();
        self.counts.lock().per_ip.get(&ip).copied().unwrap_or(0)
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut counts = self.quotas.counts.lock();
        counts.total -= 1;
        if let Entry::Occupied(mut from_ip) = counts.per_ip.entry(self.ip) {
            *from_ip.get_mut() -= 1;
            if *from_ip.get() == 0 {
                from_ip.remove();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNLIMITED: usize = i32::MAX as usize;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_broker_wide_limit_refuses_one_more_until_a_slot_is_dropped() {
        let q = ConnectionQuotas::new(2, UNLIMITED, BTreeMap::new());
        let a = q.try_acquire(ip("127.0.0.1")).unwrap();
        let _b = q.try_acquire(ip("127.0.0.2")).unwrap();
        for peer in ["127.0.0.1", "127.0.0.3"] {
            assert_eq!(
                q.try_acquire(ip(peer)).err(),
                Some(Refused::Total { max_connections: 2 })
            );
        }
        assert_eq!(q.total(), 2, "a refusal takes nothing");
        drop(a);
        assert_eq!(q.total(), 1);
        let _c = q.try_acquire(ip("127.0.0.3")).unwrap();
        assert_eq!(q.total(), 2);
    }

    #[test]
    fn the_per_ip_limit_counts_each_address_apart() {
        let q = ConnectionQuotas::new(UNLIMITED, 2, BTreeMap::new());
        let _a = q.try_acquire(ip("127.0.0.1")).unwrap();
        let _b = q.try_acquire(ip("127.0.0.1")).unwrap();
        let refused = q.try_acquire(ip("127.0.0.1")).err().unwrap();
        assert_eq!(
            refused,
            Refused::PerIp {
                ip: ip("127.0.0.1"),
                max_connections: 2,
                overridden: false
            }
        );
        assert_eq!(
            refused.to_string(),
            "127.0.0.1 already has max.connections.per.ip (2) connections"
        );
        let _c = q.try_acquire(ip("127.0.0.2")).unwrap();
        assert_eq!((q.count(ip("127.0.0.1")), q.count(ip("127.0.0.2"))), (2, 1));
    }

    #[test]
    fn an_override_replaces_the_per_ip_limit_for_its_address_only() {
        let overrides = BTreeMap::from([(ip("127.0.0.2"), 3), (ip("127.0.0.3"), 0)]);
        let q = ConnectionQuotas::new(UNLIMITED, 1, overrides);
        let _held: Vec<_> = (0..3)
            .map(|_| q.try_acquire(ip("127.0.0.2")).unwrap())
            .collect();
        assert_eq!(
            q.try_acquire(ip("127.0.0.2")).err(),
            Some(Refused::PerIp {
                ip: ip("127.0.0.2"),
                max_connections: 3,
                overridden: true
            })
        );
        assert!(matches!(
            q.try_acquire(ip("127.0.0.3")),
            Err(Refused::PerIp {
                max_connections: 0,
                ..
            })
        ));
        let _one = q.try_acquire(ip("127.0.0.1")).unwrap();
        assert!(q.try_acquire(ip("127.0.0.1")).is_err());
    }

    #[test]
    fn an_ipv4_mapped_peer_counts_as_its_ipv4_address() {
        let overrides = BTreeMap::from([(ip("::ffff:10.0.0.1"), 1)]);
        let q = ConnectionQuotas::new(UNLIMITED, 5, overrides);
        let _a = q.try_acquire(ip("10.0.0.1")).unwrap();
        assert!(q.try_acquire(ip("::ffff:10.0.0.1")).is_err());
        assert_eq!(q.count(ip("::ffff:10.0.0.1")), 1);
    }

    #[test]
    fn dropping_every_slot_leaves_no_count_behind() {
        let q = ConnectionQuotas::new(3, 2, BTreeMap::new());
        let slots: Vec<_> = ["127.0.0.1", "127.0.0.1", "127.0.0.2"]
            .into_iter()
            .map(|p| q.try_acquire(ip(p)).unwrap())
            .collect();
        assert_eq!(q.total(), 3);
        drop(slots);
        assert_eq!(q.total(), 0);
        assert!(q.counts.lock().per_ip.is_empty());
        // The full limits are available again.
        let _again: Vec<_> = ["127.0.0.1", "127.0.0.1", "127.0.0.2"]
            .into_iter()
            .map(|p| q.try_acquire(ip(p)).unwrap())
            .collect();
    }

    #[tokio::test]
    async fn a_connection_task_that_panics_gives_its_slot_back() {
        let q = ConnectionQuotas::new(1, UNLIMITED, BTreeMap::new());
        let slot = q.try_acquire(ip("127.0.0.1")).unwrap();
        let task = tokio::spawn(async move {
            let _slot = slot;
            panic!("a connection task failing on purpose");
        });
        assert!(task.await.unwrap_err().is_panic());
        assert_eq!(q.total(), 0);
        let _next = q.try_acquire(ip("127.0.0.1")).unwrap();
    }

    #[test]
    fn zero_max_connections_refuses_everyone() {
        let q = ConnectionQuotas::new(0, UNLIMITED, BTreeMap::new());
        assert_eq!(
            q.try_acquire(ip("127.0.0.1")).err(),
            Some(Refused::Total { max_connections: 0 })
        );
    }
}

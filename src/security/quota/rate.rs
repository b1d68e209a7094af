//! A rate over sampled windows, with the arithmetic of Kafka's `Rate` over a
//! `SampledStat` (the measurement its client quotas enforce): values are summed per
//! window of `window_ms`, at most `samples` windows count (one more is kept while the
//! oldest rolls off), a window untouched for `samples * window_ms` is reset, and the
//! elapsed time is never taken as less than `samples - 1` whole windows, so the first
//! requests of a client are not measured against a tiny interval.

/// `quota.window.num` windows of `quota.window.size.seconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowConfig {
    pub samples: u32,
    pub window_ms: i64,
}

#[derive(Clone, Copy, Debug)]
struct Sample {
    start_ms: i64,
    last_event_ms: i64,
    value: f64,
}

impl Sample {
    fn new(now: i64) -> Sample {
        Sample {
            start_ms: now,
            last_event_ms: now,
            value: 0.0,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Rate {
    samples: Vec<Sample>,
    current: usize,
}

impl Rate {
    /// Adds `value` at `now` (milliseconds).
    pub fn record(&mut self, config: WindowConfig, value: f64, now: i64) {
        if self.samples.is_empty() {
            self.samples.push(Sample::new(now));
            self.current = 0;
        }
        if now - self.samples[self.current].start_ms >= config.window_ms {
            let slots = config.samples.max(1) as usize + 1;
            self.current = (self.current + 1) % slots;
            if self.current >= self.samples.len() {
                self.samples.push(Sample::new(now));
            } else {
                self.samples[self.current] = Sample::new(now);
            }
        }
        let s = &mut self.samples[self.current];
        s.value += value;
        s.last_event_ms = now;
    }

    fn purge_obsolete(&mut self, config: WindowConfig, now: i64) {
        let expire = config.samples.max(1) as i64 * config.window_ms;
        for s in &mut self.samples {
            if now - s.last_event_ms >= expire {
                *s = Sample::new(now);
            }
        }
    }

    /// The time the rate is measured over, in milliseconds (at least 1).
    pub fn window_size_ms(&mut self, config: WindowConfig, now: i64) -> i64 {
        self.purge_obsolete(config, now);
        let oldest = self.samples.iter().map(|s| s.start_ms).min().unwrap_or(now);
        let mut elapsed = now - oldest;
        let full = elapsed / config.window_ms.max(1);
        let min_full = config.samples.max(1) as i64 - 1;
        if full < min_full {
            elapsed += (min_full - full) * config.window_ms;
        }
        elapsed.max(1)
    }

    /// The rate per second at `now`.
    pub fn measure(&mut self, config: WindowConfig, now: i64) -> f64 {
        let window = self.window_size_ms(config, now);
        let total: f64 = self.samples.iter().map(|s| s.value).sum();
        total / (window as f64 / 1000.0)
    }

    /// The last time anything was recorded (for expiring idle sensors).
    pub fn last_event_ms(&self) -> Option<i64> {
        self.samples.iter().map(|s| s.last_event_ms).max()
    }

    /// Records `value` and returns how long the client must wait for the rate to come
    /// back to `bound`: 0 within the quota, else Kafka's `(rate - bound) / bound *
    /// window size`, rounded.
    pub fn record_and_throttle_ms(
        &mut self,
        config: WindowConfig,
        value: f64,
        bound: f64,
        now: i64,
    ) -> i64 {
        self.record(config, value, now);
        let rate = self.measure(config, now);
        if rate <= bound {
            return 0;
        }
        let window = self.window_size_ms(config, now) as f64;
        ((rate - bound) / bound * window).round() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: WindowConfig = WindowConfig {
        samples: 11,
        window_ms: 1000,
    };

    #[test]
    fn the_first_window_counts_as_samples_minus_one_whole_windows() {
        let mut r = Rate::default();
        // 10 s is the minimum measured span: 10,000 bytes at once is 1,000 B/s.
        assert_eq!(r.record_and_throttle_ms(CFG, 10_000.0, 1000.0, 0), 0);
        // 10,000 more make 2,000 B/s over 10 s: 10 s of throttle brings it back.
        assert_eq!(r.record_and_throttle_ms(CFG, 10_000.0, 1000.0, 0), 10_000);
    }

    #[test]
    fn old_windows_roll_off() {
        let mut r = Rate::default();
        r.record(CFG, 50_000.0, 0);
        // Long after the window span, the old sample is reset.
        assert_eq!(r.measure(CFG, 60_000), 0.0);
    }
}

/// Kafka's `TokenBucket` (KIP-599), what `controller_mutation_rate` is measured with:
/// tokens refill at the quota's rate up to a burst of `quota * samples * window`, each
/// partition created or deleted takes one, and the quota is violated while the bucket
/// is below zero. A new bucket starts full.
#[derive(Clone, Debug, Default)]
pub struct TokenBucket {
    tokens: f64,
    last_update_ms: Option<i64>,
}

impl TokenBucket {
    fn refill(&mut self, config: WindowConfig, quota: f64, now: i64) {
        let burst = config.samples.max(1) as f64 * (config.window_ms as f64 / 1000.0) * quota;
        self.tokens = match self.last_update_ms {
            None => burst,
            Some(last) => (self.tokens + quota * ((now - last).max(0) as f64 / 1000.0)).min(burst),
        };
        self.last_update_ms = Some(now);
    }

    /// The tokens left at `now`.
    pub fn tokens(&mut self, config: WindowConfig, quota: f64, now: i64) -> f64 {
        self.refill(config, quota, now);
        self.tokens
    }

    /// Takes `permits` tokens.
    pub fn take(&mut self, config: WindowConfig, quota: f64, permits: f64, now: i64) {
        self.refill(config, quota, now);
        self.tokens -= permits;
    }

    pub fn last_event_ms(&self) -> Option<i64> {
        self.last_update_ms
    }

    /// Kafka's wait for the bucket to come back to zero: `-tokens / quota` seconds.
    pub fn throttle_ms(&self, quota: f64) -> i64 {
        if self.tokens >= 0.0 {
            0
        } else {
            (-self.tokens / quota * 1000.0).round() as i64
        }
    }
}

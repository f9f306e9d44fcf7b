//! Retry and schedule timing: exponential backoff with jitter, and the jittered collection interval.
//! Pure: the random part is a parameter in [0, 1).

use std::time::Duration;

/// The delay before retry number `attempt` (1 = first retry): the exponential step
/// `first * 2^(attempt-1)`, capped at `max`, then "equal jitter": half of it fixed, half random.
pub fn retry_delay(attempt: u32, first: Duration, max: Duration, random: f64) -> Duration {
    let exp = attempt.saturating_sub(1).min(32);
    let step = first.saturating_mul(1u32 << exp.min(31)).min(max);
    let half = step / 2;
    half + half.mul_f64(random.clamp(0.0, 1.0))
}

/// The time to the next collection: `interval` moved by up to `jitter` either way, at random.
pub fn next_collection(interval: Duration, jitter: Duration, random: f64) -> Duration {
    let offset = jitter.mul_f64(2.0 * random.clamp(0.0, 1.0));
    (interval + offset)
        .saturating_sub(jitter)
        .max(Duration::from_secs(1))
}

/// A uniform random number in [0, 1) from the operating system (0.5 if it cannot give one).
pub fn random_unit() -> f64 {
    let mut b = [0u8; 8];
    match getrandom::fill(&mut b) {
        Ok(()) => (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn retry_delays_grow_then_cap() {
        let cases = [
            (1, 0.0, S(5) / 2),
            (1, 1.0, S(5)),
            (2, 1.0, S(10)),
            (3, 0.5, S(15)),
            (9, 1.0, S(900)),
            (9, 0.0, S(450)),
            (1000, 1.0, S(900)),
        ];
        for (attempt, r, want) in cases {
            assert_eq!(
                retry_delay(attempt, S(5), S(900), r),
                want,
                "attempt {attempt} r {r}"
            );
        }
    }

    #[test]
    fn collection_interval_stays_within_jitter() {
        assert_eq!(next_collection(S(21600), S(1800), 0.0), S(19800));
        assert_eq!(next_collection(S(21600), S(1800), 0.5), S(21600));
        assert_eq!(next_collection(S(21600), S(1800), 1.0), S(23400));
        assert_eq!(next_collection(S(60), S(0), 0.7), S(60));
    }

    #[test]
    fn random_unit_is_in_range() {
        for _ in 0..100 {
            let r = random_unit();
            assert!((0.0..1.0).contains(&r));
        }
    }
}

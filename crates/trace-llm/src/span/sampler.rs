//! Head sampling: parent-based with a trace-id ratio for roots, compatible with the SDK's
//! `TraceIdRatioBased` (same ids give the same decision in every service).

use opentelemetry::trace::TraceId;

/// What to do with root spans (spans without a parent).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Root {
    AlwaysOn,
    AlwaysOff,
    /// Keep roots whose trace id falls under the ratio.
    Ratio(f64),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Sampler {
    pub(crate) root: Root,
    /// Follow the parent's sampled flag when there is a parent (`parentbased_*`).
    pub(crate) parent_based: bool,
}

impl Default for Sampler {
    fn default() -> Self {
        Sampler {
            root: Root::AlwaysOn,
            parent_based: true,
        }
    }
}

impl Sampler {
    pub(crate) fn ratio(ratio: f64) -> Self {
        Sampler {
            root: Root::Ratio(ratio),
            parent_based: true,
        }
    }

    /// `parent_sampled`: whether the parent is sampled, when there is a parent.
    #[inline]
    pub(crate) fn should_sample(&self, parent_sampled: Option<bool>, trace_id: TraceId) -> bool {
        if self.parent_based {
            if let Some(parent_sampled) = parent_sampled {
                return parent_sampled;
            }
        }
        match self.root {
            Root::AlwaysOn => true,
            Root::AlwaysOff => false,
            Root::Ratio(ratio) => ratio_sample(ratio, trace_id),
        }
    }
}

/// The SDK's algorithm: the low 63 bits of the trace id against `ratio * 2^63`.
#[inline]
fn ratio_sample(ratio: f64, trace_id: TraceId) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    if ratio <= 0.0 || ratio.is_nan() {
        return false;
    }
    let bound = (ratio * (1u64 << 63) as f64) as u64;
    let bytes = trace_id.to_bytes();
    let mut low = [0u8; 8];
    low.copy_from_slice(&bytes[8..16]);
    (u64::from_be_bytes(low) >> 1) < bound
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_keeps_about_the_ratio() {
        let s = Sampler::ratio(0.25);
        let kept = (0..10_000u128)
            .filter(|i| {
                s.should_sample(
                    None,
                    TraceId::from(i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)),
                )
            })
            .count();
        assert!((2000..3000).contains(&kept), "kept {kept}");
    }

    #[test]
    fn parent_decides_when_present() {
        let s = Sampler::ratio(0.0);
        assert!(s.should_sample(Some(true), TraceId::from(1u128)));
        assert!(!s.should_sample(None, TraceId::from(1u128)));
        let all = Sampler::ratio(1.0);
        assert!(!all.should_sample(Some(false), TraceId::from(1u128)));
        let not_parent_based = Sampler {
            parent_based: false,
            ..all
        };
        assert!(not_parent_based.should_sample(Some(false), TraceId::from(1u128)));
    }
}

//! Algorithm 1's schedule: warm-up (instance loss only), assigning (group and pair weights ramp
//! in, assignment refreshed periodically), then the full loss with a fixed assignment.

use super::config::CondenseConfig;

/// What step `j` does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepPlan {
    /// Multiplier of `w_group` and `w_pair` (0 in warm-up, `(j - warmup + 1) / assign` while
    /// assigning, 1 afterwards).
    pub ramp: f64,
    /// Group and pair terms are computed at this step.
    pub multi_level: bool,
    /// Recompute the synthetic group assignment and the pairs before this step's loss.
    pub refresh: bool,
}

/// Plan of step `j` under `config`.
pub fn plan(config: &CondenseConfig, j: usize) -> StepPlan {
    if j < config.warmup {
        return StepPlan {
            ramp: 0.0,
            multi_level: false,
            refresh: false,
        };
    }
    let k = j - config.warmup;
    if k < config.assign {
        StepPlan {
            ramp: (k + 1) as f64 / config.assign as f64,
            multi_level: true,
            refresh: k.is_multiple_of(config.assign_every.max(1)),
        }
    } else {
        StepPlan {
            ramp: 1.0,
            multi_level: true,
            // With no assigning phase the assignment is made once, right after warm-up.
            refresh: config.assign == 0 && k == 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases() {
        let c = CondenseConfig {
            warmup: 2,
            assign: 4,
            assign_every: 2,
            ..Default::default()
        };
        let p: Vec<StepPlan> = (0..8).map(|j| plan(&c, j)).collect();
        assert!(!p[0].multi_level && !p[1].multi_level && p[1].ramp == 0.0);
        assert!(p[2].multi_level && p[2].refresh && p[2].ramp == 0.25);
        assert!(!p[3].refresh && p[3].ramp == 0.5);
        assert!(p[4].refresh);
        assert!(p[5].ramp == 1.0 && !p[5].refresh);
        assert!(p[6].ramp == 1.0 && !p[6].refresh && p[7].multi_level);
        let c = CondenseConfig {
            warmup: 1,
            assign: 0,
            ..Default::default()
        };
        assert!(plan(&c, 1).refresh && plan(&c, 1).ramp == 1.0 && !plan(&c, 2).refresh);
    }
}

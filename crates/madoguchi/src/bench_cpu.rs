//! CPU time of processes, read from `/proc`: the bench reports the server's CPU per request and
//! PostgreSQL's, which on a shared 2-core machine are steadier than requests per second (one
//! run's throughput moves with whatever else runs; the work a request costs does not).

/// `/proc` reports times in USER_HZ, which Linux fixes at 100 on every architecture it ships
/// (the kernel converts from its internal tick rate).
const TICKS_PER_SEC: f64 = 100.0;

/// A process's own CPU seconds (all its threads, live and exited) and those of its reaped
/// children.
fn times(pid: u32) -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses; the fields after its last
    // `)` are fixed: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |field: usize| f.get(field - 3)?.parse::<f64>().ok();
    Some((
        (n(14)? + n(15)?) / TICKS_PER_SEC,
        (n(16)? + n(17)?) / TICKS_PER_SEC,
    ))
}

/// CPU seconds a process has used so far, its threads included.
pub(crate) fn process_cpu(pid: u32) -> f64 {
    times(pid).map_or(0.0, |t| t.0)
}

/// CPU seconds of the processes so far, summed.
pub(crate) fn processes_cpu(pids: &[u32]) -> f64 {
    pids.iter().map(|p| process_cpu(*p)).sum()
}

/// CPU seconds the local PostgreSQL has used so far: every live `postgres` process, plus what
/// the postmaster collected from backends that ended (pgbench's connections end with its run,
/// and their time moves to the postmaster's children's count then). Zero without PostgreSQL
/// on this machine.
pub(crate) fn postgres_cpu() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim_end() == "postgres")
        })
        .filter_map(times)
        .map(|(own, children)| own + children)
        .sum()
}

/// CPU seconds of the server processes and of PostgreSQL at one moment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuMark {
    server: f64,
    postgres: f64,
}

impl CpuMark {
    /// Now, for the server processes `pids`.
    pub(crate) fn now(pids: &[u32]) -> CpuMark {
        CpuMark {
            server: processes_cpu(pids),
            postgres: postgres_cpu(),
        }
    }

    /// Microseconds of CPU per operation since `self` — (server, PostgreSQL) — for `ops`
    /// operations.
    pub(crate) fn per_op_since(self, pids: &[u32], ops: usize) -> (f64, f64) {
        let later = CpuMark::now(pids);
        let per = |secs: f64| secs * 1e6 / ops.max(1) as f64;
        (
            per(later.server - self.server),
            per(later.postgres - self.postgres),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_used_cpu_and_spinning_adds_to_it() {
        let pid = std::process::id();
        let before = process_cpu(pid);
        let started = std::time::Instant::now();
        let mut x = 0u64;
        // 300 ms of work: 30 ticks, far above the 10 ms resolution.
        while started.elapsed().as_millis() < 300 {
            x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
        let used = process_cpu(pid) - before;
        assert!(
            (0.2..2.0).contains(&used),
            "spun 0.3 s, /proc says {used} s"
        );
    }

    #[test]
    fn a_missing_process_counts_as_nothing() {
        assert!(times(u32::MAX).is_none());
        assert!(process_cpu(u32::MAX).abs() < f64::EPSILON);
    }
}

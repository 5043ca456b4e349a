// SPDX-License-Identifier: LGPL-2.1-or-later
//! rust-litebox-sigint: Ctrl-C in a library OS, on sigwake (the Rust twin
//! of examples/litebox-sigint.c).
//!
//! LiteBox (a library OS in Rust) added SIGINT in its PR 690: a host SIGINT
//! handler recorded the signal in the guest thread's TLS, CASed the
//! thread's wait state from WAITING to WOKEN and did a futex wake, so that
//! a thread about to sleep, or asleep, would notice; non-guest threads had
//! to block and re-raise it.  With sigwake the runtime says once, at boot:
//!
//! ```text
//! sigwake::ignore_signal(SIGINT);                      // the host ignores it
//! domain.forward(SIGINT, GUEST_SIGINT, Target::Thread(guest));
//! ```
//!
//! and every host SIGINT sent to the process (a terminal's Ctrl-C, kill(1)
//! from another process) becomes a guest post in the kernel: the guest
//! thread asleep in [`Registration::wait`] returns [`Reason::Signal`] with
//! guest SIGINT pending.  No handler, no TLS, no thread list.
//!
//! Scenarios (one summary line each):
//!   ctrl-c            another process kill()s us once: the sleeping guest
//!                     thread wakes with guest SIGINT
//!   ctrl-c paced      N kills (-n, default 300), each after the previous
//!                     delivery was seen: exactly N deliveries
//!   forward removed   after forward_remove() a kill reaches no guest thread
//!
//! Exit status: 0 every scenario behaved, 1 one did not, 2 no sigwake.

use sigwake::{Domain, Reason, RegisterOptions, Target, ThreadHandle, ThreadState, Timeout};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

const GUEST_SIGINT: u32 = 2;
const PATIENCE: Duration = Duration::from_secs(20);
/// How long "nothing arrives" is watched for.
const QUIET: Duration = Duration::from_millis(300);

fn now_ns() -> i64 {
    sigwake::monotonic_now().as_nanos() as i64
}

/// The "terminal" and the guest share this (a MAP_SHARED page: the
/// terminal is another process).
#[repr(C)]
struct Term {
    t_kill: AtomicI64,    // CLOCK_MONOTONIC just before the last kill()
    delivered: AtomicI64, // guest SIGINT deliveries, written by the guest
    sent: AtomicI64,      // kills sent, written by the terminal
}

fn shared_term() -> &'static Term {
    // SAFETY: a fresh shared anonymous page, zeroed (all counters 0),
    // never unmapped: it lives as long as the process.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert!(p != libc::MAP_FAILED, "mmap: {}", io::Error::last_os_error());
        &*(p as *const Term)
    }
}

/// Fork a process that sends `n` SIGINTs to us; `paced`: each after the
/// previous delivery was seen.  Returns its pid.
fn terminal(term: &'static Term, n: i64, paced: bool) -> libc::pid_t {
    // SAFETY: getpid and fork; the child only makes async-signal-safe
    // calls (clock_gettime, kill, sched_yield, _exit) and no allocation.
    unsafe {
        let parent = libc::getpid();
        let pid = libc::fork();
        if pid != 0 {
            return pid;
        }
        for i in 0..n {
            let want = term.delivered.load(Ordering::Acquire) + 1;
            term.t_kill.store(now_ns(), Ordering::Release);
            libc::kill(parent, libc::SIGINT);
            term.sent.store(i + 1, Ordering::Release);
            if !paced {
                continue;
            }
            let end = now_ns() + PATIENCE.as_nanos() as i64;
            while term.delivered.load(Ordering::Acquire) < want {
                if now_ns() > end {
                    libc::_exit(1);
                }
                libc::sched_yield();
            }
        }
        libc::_exit(0);
    }
}

fn reap(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    loop {
        // SAFETY: waitpid on our child.
        if unsafe { libc::waitpid(pid, &mut status, 0) } >= 0 {
            break;
        }
        if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return 127;
        }
    }
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128
    }
}

/// The guest thread's record of what it received.
#[derive(Default)]
struct Guest {
    sigint: AtomicU64,
    stop: AtomicBool,
    lat_ns: std::sync::Mutex<Vec<i64>>,
}

/// A guest thread in a blocking guest syscall (nanosleep, sigsuspend),
/// emulated by a wait on no queue: it returns for a guest signal or a kick.
fn guest_main(domain: &Domain, term: &Term, g: &Guest, tx: std::sync::mpsc::Sender<(ThreadHandle, sigwake::BlockWatch)>) -> io::Result<()> {
    let reg = domain.register(RegisterOptions::new())?;
    tx.send((reg.handle(), reg.watch())).unwrap();
    while !g.stop.load(Ordering::Acquire) {
        match reg.wait(Timeout::After(PATIENCE))? {
            Reason::Kick => {
                reg.take_flags();
            }
            Reason::Signal => {
                let t = now_ns();
                if reg.take_pending().contains(GUEST_SIGINT) {
                    // The guest's SIGINT "handler" (runtime level).
                    g.lat_ns.lock().unwrap().push(t - term.t_kill.load(Ordering::Acquire));
                    g.sigint.fetch_add(1, Ordering::AcqRel);
                    term.delivered.fetch_add(1, Ordering::AcqRel);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn fmt_ns(ns: i64) -> String {
    if ns < 10_000_000 {
        format!("{} us", ns / 1000)
    } else if ns < 1_000_000_000 {
        format!("{:.2} ms", ns as f64 / 1e6)
    } else {
        format!("{:.2} s", ns as f64 / 1e9)
    }
}

fn wait_for(mut cond: impl FnMut() -> bool, within: Duration) -> bool {
    let end = now_ns() + within.as_nanos() as i64;
    while !cond() {
        if now_ns() > end {
            return false;
        }
        std::thread::yield_now();
    }
    true
}

fn main() {
    let mut n: i64 = 300;
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 3 && args[1] == "-n" {
        n = args[2].parse().unwrap_or(n);
    } else if args.len() != 1 {
        eprintln!("usage: rust-litebox-sigint [-n kills]");
        std::process::exit(2);
    }
    let domain = match Domain::open() {
        Ok(d) => d,
        Err(e) => {
            println!("rust-litebox-sigint: cannot open /dev/sigwake: {} (is sigwake.ko loaded?)", e);
            std::process::exit(2);
        }
    };
    let term = shared_term();
    let g = Guest::default();
    let mut failures = 0;
    let mut fail = |msg: String| {
        println!("  FAIL: {}", msg);
        failures += 1;
    };

    let r = std::thread::scope(|s| -> io::Result<()> {
        let (tx, rx) = std::sync::mpsc::channel();
        let (domain_r, g_r) = (&domain, &g);
        let guest = s.spawn(move || guest_main(domain_r, term, g_r, tx));
        let (h, watch) = match rx.recv() {
            Ok(x) => x,
            Err(_) => return guest.join().unwrap(),
        };
        let asleep = || wait_for(|| watch.state() == Some(ThreadState::Waiting), PATIENCE);

        // At boot: the host ignores SIGINT; the kernel forwards it.
        sigwake::ignore_signal(libc::SIGINT)?;
        domain.forward(libc::SIGINT, GUEST_SIGINT, Target::Thread(h))?;

        // 1. ctrl-c: one kill from another process.
        if !asleep() {
            fail("ctrl-c: the guest thread never went to sleep".into());
        }
        let before = g.sigint.load(Ordering::Acquire);
        let rc = reap(terminal(term, 1, false));
        let got = wait_for(|| g.sigint.load(Ordering::Acquire) > before, PATIENCE);
        let lat = g.lat_ns.lock().unwrap().last().copied().unwrap_or(0);
        if !got || rc != 0 {
            fail(format!("ctrl-c: no guest SIGINT after the kill (terminal status {})", rc));
        }
        println!(
            "rust ctrl-c: a kill(SIGINT) from another process woke the guest thread asleep in WAIT with guest SIGINT pending ({}); kill-to-wake {}",
            if got { "delivered" } else { "NOT delivered" },
            fmt_ns(lat)
        );

        // 2. ctrl-c paced: n kills, each after the previous delivery.
        g.lat_ns.lock().unwrap().clear();
        let before = g.sigint.load(Ordering::Acquire);
        let t0 = now_ns();
        let rc = reap(terminal(term, n, true));
        wait_for(|| g.sigint.load(Ordering::Acquire) >= before + n as u64, PATIENCE);
        let got = g.sigint.load(Ordering::Acquire) - before;
        let mut lat = g.lat_ns.lock().unwrap().clone();
        lat.sort_unstable();
        let pct = |p: usize| lat.get(lat.len().saturating_sub(1) * p / 100).copied().unwrap_or(0);
        if got != n as u64 || rc != 0 {
            fail(format!("ctrl-c paced: {} of {} delivered (terminal status {})", got, n, rc));
        }
        println!(
            "rust ctrl-c paced: {} kills, each after the previous delivery: {} delivered, {} lost; kill-to-wake median {}, p99 {}, max {}; in {}",
            n,
            got,
            (n as u64).saturating_sub(got),
            fmt_ns(pct(50)),
            fmt_ns(pct(99)),
            fmt_ns(pct(100)),
            fmt_ns(now_ns() - t0)
        );

        // 3. forward removed: the kill is ignored by the host and reaches
        // no guest thread; a second remove is ENOENT.
        domain.forward_remove(libc::SIGINT)?;
        let before = g.sigint.load(Ordering::Acquire);
        let rc = reap(terminal(term, 1, false));
        std::thread::sleep(QUIET);
        let after = g.sigint.load(Ordering::Acquire);
        let again = domain.forward_remove(libc::SIGINT);
        let enoent = matches!(&again, Err(e) if e.raw_os_error() == Some(libc::ENOENT));
        if after != before || rc != 0 || !enoent {
            fail(format!(
                "forward removed: {} deliveries after the remove, second remove {:?}",
                after - before,
                again
            ));
        }
        println!(
            "rust forward removed: a kill after forward_remove() reached {} guest threads (host ignored it); removing again: {}",
            after - before,
            if enoent { "ENOENT" } else { "not ENOENT" }
        );

        // Stop the guest: the flag, then a kick out of its wait.
        g.stop.store(true, Ordering::Release);
        domain.kick(h)?;
        guest.join().unwrap()
    });
    if let Err(e) = r {
        fail(format!("{}", e));
    }
    if failures > 0 {
        println!("rust-litebox-sigint: {} failure(s)", failures);
        std::process::exit(1);
    }
}

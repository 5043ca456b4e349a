// SPDX-License-Identifier: LGPL-2.1-or-later
//! The crate against the real module: built static by bindings/rust/Makefile
//! as the VM test program `rust_test`, run by `make check` on every kernel;
//! TAP on stdout.  Without /dev/sigwake (a host) the whole program skips.
//!
//! One behaviour per test; helper threads record and the test thread
//! checks; every wait has a deadline, and alarm(2) bounds the program.

use sigwake::{
    Domain, Flags, Outcome, PollFd, PreemptTarget, Reason, RegisterOptions, SigSet, Target,
    ThreadHandle, ThreadState, Timeout, WaitOn,
};
use std::io;
use std::os::unix::io::{AsFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Anything that must happen gets this long (TCG is slow).
const PATIENCE: Duration = Duration::from_secs(20);

enum Fail {
    Skip(String),
    Fail(String),
}

type TestResult = Result<(), Fail>;

macro_rules! check {
    ($cond:expr, $($fmt:tt)*) => {
        if !$cond {
            return Err(Fail::Fail(format!("{}:{}: {}", file!(), line!(), format!($($fmt)*))));
        }
    };
}

/// `?` for io::Result in tests.
trait Ctx<T> {
    fn ctx(self, what: &str) -> Result<T, Fail>;
}

impl<T> Ctx<T> for io::Result<T> {
    fn ctx(self, what: &str) -> Result<T, Fail> {
        self.map_err(|e| Fail::Fail(format!("{}: {}", what, e)))
    }
}

fn errno(r: io::Result<impl std::fmt::Debug>) -> Option<i32> {
    r.err().and_then(|e| e.raw_os_error())
}

/// Poll `cond` until it holds or PATIENCE runs out.
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + PATIENCE;
    while !cond() {
        if Instant::now() > end {
            return false;
        }
        std::thread::yield_now();
    }
    true
}

fn patient() -> Timeout {
    Timeout::After(PATIENCE)
}

// ---------------------------------------------------------------- tests

fn register_and_drop(d: &Domain) -> TestResult {
    let reg = d.register(RegisterOptions::new()).ctx("register")?;
    check!(reg.block() as *const _ as usize % 64 == 0, "block not 64-byte aligned");
    check!(reg.block().state() == Some(ThreadState::RunningInHost), "state {:?}", reg.block().state());
    let h = reg.handle();
    drop(reg);
    // Dropping unregistered: the handle is gone and the thread may
    // register again.
    check!(errno(d.unregister(h)) == Some(libc::ENOENT), "handle still registered after drop");
    let again = d.register(RegisterOptions::new()).ctx("register again")?;
    drop(again);
    Ok(())
}

fn register_twice_is_eexist(d: &Domain) -> TestResult {
    let _reg = d.register(RegisterOptions::new()).ctx("register")?;
    let r = d.register(RegisterOptions::new()).map(|_| ());
    check!(errno(r) == Some(libc::EEXIST), "second registration not EEXIST");
    Ok(())
}

fn post_in_host_is_recorded_and_refuses_entry(d: &Domain) -> TestResult {
    let mut reg = d.register(RegisterOptions::new()).ctx("register")?;
    let p = d.post(Target::Thread(reg.handle()), 10).ctx("post")?;
    check!(p.outcome == Outcome::Recorded, "outcome {}", p.outcome);
    check!(p.receiver == Some(reg.handle()), "receiver {:?}", p.receiver);
    check!(reg.block().pending().contains(10), "pending {:?}", reg.block().pending());
    match reg.enter_guest() {
        Ok(_) => check!(false, "entry not refused with signal 10 pending"),
        Err(r) => check!(r.signals == SigSet::of(10), "refused with {:?}", r),
    }
    check!(reg.block().state() == Some(ThreadState::RunningInHost), "state after refusal");
    check!(reg.take_pending() == SigSet::of(10), "take_pending");
    let entered = reg.enter_guest().is_ok();
    check!(entered, "entry refused with nothing pending");
    check!(reg.block().state() == Some(ThreadState::RunningInHost), "guard did not leave");
    check!(reg.block().entry_seq() == 2, "entry_seq {}", reg.block().entry_seq());
    Ok(())
}

fn post_in_guest_kicks(d: &Domain) -> TestResult {
    let kick = AtomicU8::new(0);
    // SAFETY: `kick` outlives the registration, dropped first below.
    let opts = unsafe { RegisterOptions::new().kick_byte(&kick as *const AtomicU8 as *mut u8) };
    let mut reg = d.register(opts).ctx("register")?;
    let h = reg.handle();
    let guest = reg.enter_guest().map_err(|r| Fail::Fail(format!("refused {:?}", r)))?;
    let p = d.post(Target::Thread(h), 3).ctx("post")?;
    check!(p.outcome == Outcome::Kicked, "outcome {}", p.outcome);
    check!(guest.block().kicked(), "TF_KICKED not set");
    check!(kick.load(Ordering::Acquire) == 1, "kick byte not set");
    guest.leave();
    check!(reg.take_flags().contains(Flags::KICKED), "take_flags");
    check!(reg.take_pending() == SigSet::of(3), "pending");
    drop(reg);
    Ok(())
}

fn kick_in_host_is_recorded(d: &Domain) -> TestResult {
    let mut reg = d.register(RegisterOptions::new()).ctx("register")?;
    let o = d.kick(reg.handle()).ctx("kick")?;
    check!(o == Outcome::Recorded, "outcome {}", o);
    check!(reg.block().kicked(), "TF_KICKED not set");
    match reg.enter_guest() {
        Ok(_) => check!(false, "entry not refused by TF_KICKED"),
        Err(r) => check!(r.flags.contains(Flags::KICKED) && r.signals.is_empty(), "refused {:?}", r),
    }
    let r = reg.poll().ctx("poll")?;
    check!(r == Reason::Kick, "poll: {}", r);
    let f = reg.take_flags();
    check!(f == Flags::from_bits(Flags::KICKED.bits() | Flags::KICK_REQUESTED.bits()), "flags {:?}", f);
    let r = reg.poll().ctx("poll")?;
    check!(r == Reason::Timeout, "second poll: {}", r);
    Ok(())
}

fn blocked_signal_stays_pending(d: &Domain) -> TestResult {
    let mut reg = d.register(RegisterOptions::new()).ctx("register")?;
    check!(reg.set_blocked(SigSet::of(12)).is_empty(), "old mask");
    let p = d.post(Target::Thread(reg.handle()), 12).ctx("post")?;
    check!(p.outcome == Outcome::Recorded, "outcome {}", p.outcome);
    let entered = reg.enter_guest().is_ok();
    check!(entered, "a blocked signal refused the entry");
    check!(reg.take_pending().is_empty(), "took a blocked signal");
    check!(reg.set_blocked(SigSet::empty()) == SigSet::of(12), "old mask");
    check!(reg.take_pending() == SigSet::of(12), "unblocked signal not taken");
    Ok(())
}

fn queue_word_mismatch_and_timeout(d: &Domain) -> TestResult {
    let word = AtomicU32::new(7);
    let wq = d.wait_queue_on(&word).ctx("wq create")?;
    let reg = d.register(RegisterOptions::new()).ctx("register")?;
    let r = reg.wait_on(&wq, 6, patient());
    check!(
        matches!(&r, Err(e) if e.kind() == io::ErrorKind::WouldBlock),
        "word mismatch: {:?}",
        r
    );
    let t0 = Instant::now();
    let r = reg.wait_on(&wq, 7, Timeout::After(Duration::from_millis(20))).ctx("wait")?;
    check!(r == Reason::Timeout, "reason {}", r);
    check!(t0.elapsed() >= Duration::from_millis(20), "returned early");
    let deadline = sigwake::monotonic_now() + Duration::from_millis(5);
    let r = reg.wait_on(&wq, 7, Timeout::Deadline(deadline)).ctx("wait abs")?;
    check!(r == Reason::Timeout, "reason {}", r);
    check!(sigwake::monotonic_now() >= deadline, "absolute deadline not kept");
    Ok(())
}

fn queue_of_another_domain_is_refused(d: &Domain) -> TestResult {
    let other = Domain::open().ctx("open")?;
    let wq = other.wait_queue().ctx("wq")?;
    let reg = d.register(RegisterOptions::new()).ctx("register")?;
    let r = reg.wait_on(&wq, 0, Timeout::After(Duration::ZERO));
    check!(
        matches!(&r, Err(e) if e.kind() == io::ErrorKind::InvalidInput),
        "{:?}",
        r
    );
    Ok(())
}

/// A guest thread registers, reports its handle, waits with `wait`, and
/// sends back (reason, pending, wake_seq).
fn sleeper<'d>(
    d: &'d Domain,
    s: &'d std::thread::Scope<'d, '_>,
    wait: impl FnOnce(&sigwake::Registration<'_>) -> io::Result<Reason> + Send + 'd,
) -> (
    ThreadHandle,
    sigwake::BlockWatch,
    std::thread::ScopedJoinHandle<'d, io::Result<(Reason, SigSet, u64)>>,
) {
    let (tx, rx) = mpsc::channel();
    let j = s.spawn(move || {
        let reg = d.register(RegisterOptions::new())?;
        tx.send((reg.handle(), reg.watch())).unwrap();
        let r = wait(&reg)?;
        Ok((r, reg.take_pending(), reg.block().wake_seq()))
    });
    let (h, w) = rx.recv().expect("sleeper died before registering");
    (h, w, j)
}

fn asleep(w: &sigwake::BlockWatch) -> bool {
    eventually(|| w.state() == Some(ThreadState::Waiting))
}

fn wake_ends_a_queue_wait(d: &Domain) -> TestResult {
    let word = AtomicU32::new(0);
    let wq = d.wait_queue_on(&word).ctx("wq")?;
    std::thread::scope(|s| {
        let (_, w, j) = sleeper(d, s, |reg| reg.wait_on(&wq, 0, patient()));
        check!(asleep(&w), "sleeper never slept");
        word.store(1, Ordering::Release);
        let n = wq.wake(u32::MAX).ctx("wake")?;
        let (r, _, seq) = j.join().unwrap().ctx("sleeper")?;
        check!(n == 1, "woken {}", n);
        check!(r == Reason::Wake, "reason {}", r);
        check!(seq == 1, "wake_seq {}", seq);
        Ok(())
    })
}

/// The hand-off wakes the sleeper, then waits; an unknown queue fails
/// before waking (`Err`), a stale word after it (`HandOff::wait`).
fn hand_off_wakes_then_waits(d: &Domain) -> TestResult {
    let (mine, theirs) = (AtomicU32::new(0), AtomicU32::new(0));
    let my_wq = d.wait_queue_on(&mine).ctx("wq")?;
    let their_wq = d.wait_queue_on(&theirs).ctx("wq")?;
    let reg = d.register(RegisterOptions::new()).ctx("register")?;
    std::thread::scope(|s| {
        let (_, w, j) = sleeper(d, s, |reg| reg.wait_on(&their_wq, 0, patient()));
        check!(asleep(&w), "sleeper never slept");
        theirs.store(1, Ordering::Release);
        let short = Timeout::After(Duration::from_millis(20));
        let h = reg.hand_off(&their_wq, 1, WaitOn::Queue(&my_wq, 0), short).ctx("hand-off")?;
        let (r, _, seq) = j.join().unwrap().ctx("sleeper")?;
        check!(h.woken == 1, "woken {}", h.woken);
        check!(matches!(h.wait, Ok(Reason::Timeout)), "wait {:?}", h.wait);
        check!(r == Reason::Wake && seq == 1, "sleeper: {}, wake_seq {}", r, seq);
        Ok(())
    })?;
    mine.store(2, Ordering::Release);
    let h = reg.hand_off(&their_wq, 1, WaitOn::Queue(&my_wq, 0), patient()).ctx("stale")?;
    check!(h.woken == 0, "woken {}", h.woken);
    check!(errno(h.wait) == Some(libc::EAGAIN), "stale word: not EAGAIN");
    let other = Domain::open().ctx("open")?;
    let foreign = other.wait_queue().ctx("wq")?;
    let r = reg.hand_off(&foreign, 1, WaitOn::Own, patient());
    check!(matches!(&r, Err(e) if e.kind() == io::ErrorKind::InvalidInput), "{:?}", r);
    Ok(())
}

fn post_wakes_a_sleeper(d: &Domain) -> TestResult {
    std::thread::scope(|s| {
        let (h, w, j) = sleeper(d, s, |reg| reg.wait(patient()));
        check!(asleep(&w), "sleeper never slept");
        let p = d.post(Target::Thread(h), 2).ctx("post")?;
        let (r, pending, _) = j.join().unwrap().ctx("sleeper")?;
        check!(p.outcome == Outcome::Woken, "outcome {}", p.outcome);
        check!(r == Reason::Signal, "reason {}", r);
        check!(pending == SigSet::of(2), "pending {:?}", pending);
        Ok(())
    })
}

fn post_any_picks_the_waiter(d: &Domain) -> TestResult {
    let _me = d.register(RegisterOptions::new()).ctx("register")?;
    std::thread::scope(|s| {
        let (h, w, j) = sleeper(d, s, |reg| reg.wait(patient()));
        check!(asleep(&w), "sleeper never slept");
        let p = d.post(Target::Any, 5).ctx("post")?;
        let (r, pending, _) = j.join().unwrap().ctx("sleeper")?;
        check!(p.receiver == Some(h), "receiver {:?}, waiter {:?}", p.receiver, h);
        check!(p.outcome == Outcome::Woken && r == Reason::Signal, "{} / {}", p.outcome, r);
        check!(pending.contains(5), "pending {:?}", pending);
        Ok(())
    })
}

fn ready_fd_ends_a_wait(d: &Domain) -> TestResult {
    let mut p = [0; 2];
    // SAFETY: pipe2 fills two descriptors, which we then own.
    if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(Fail::Fail(format!("pipe2: {}", io::Error::last_os_error())));
    }
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) };
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|s| {
        let rd = &rd;
        let (_, w, j) = sleeper(d, s, move |reg| {
            let mut fds = [PollFd::new(rd.as_fd(), libc::POLLIN)];
            let r = reg.wait_fds(WaitOn::Own, &mut fds, patient());
            tx.send(fds[0].revents()).unwrap();
            r
        });
        check!(asleep(&w), "sleeper never slept");
        // SAFETY: one byte from a live buffer into our pipe.
        let n = unsafe { libc::write(std::os::unix::io::AsRawFd::as_raw_fd(&wr), b"x".as_ptr().cast(), 1) };
        check!(n == 1, "write");
        let (r, _, _) = j.join().unwrap().ctx("sleeper")?;
        let revents = rx.recv().unwrap();
        check!(r == Reason::Fd, "reason {}", r);
        check!(revents & libc::POLLIN != 0, "revents {:#x}", revents);
        Ok(())
    })
}

fn kick_wait_gets_a_thread_out_of_guest_code(d: &Domain) -> TestResult {
    let kick = AtomicU8::new(0);
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel();
        let kick = &kick;
        let j = s.spawn(move || -> io::Result<u32> {
            // SAFETY: `kick` outlives this scoped thread and its registration.
            let opts = unsafe { RegisterOptions::new().kick_byte(kick as *const AtomicU8 as *mut u8) };
            let mut reg = d.register(opts)?;
            tx.send((reg.handle(), reg.watch())).unwrap();
            // "Guest code": spin until the kick byte is set (as
            // KVM_RUN checks immediate_exit), bounded by PATIENCE.
            if let Ok(guest) = reg.enter_guest() {
                let end = Instant::now() + PATIENCE;
                while kick.load(Ordering::Acquire) == 0 && Instant::now() < end {
                    std::hint::spin_loop();
                }
                guest.leave();
            }
            kick.store(0, Ordering::Relaxed);
            Ok(reg.take_flags().bits())
        });
        let (h, w) = rx.recv().expect("guest died");
        check!(
            eventually(|| w.state() == Some(ThreadState::RunningInGuest)),
            "never entered guest code"
        );
        let o = d.kick_wait(h, Some(PATIENCE)).ctx("kick_wait")?;
        check!(w.state() != Some(ThreadState::RunningInGuest), "kick_wait returned in guest code");
        let flags = j.join().unwrap().ctx("guest")?;
        check!(o == Outcome::Kicked, "outcome {}", o);
        check!(flags & Flags::KICKED.bits() != 0, "flags {:#x}", flags);
        Ok(())
    })
}

fn kick_wait_on_a_host_thread_returns_at_once(d: &Domain) -> TestResult {
    let reg = d.register(RegisterOptions::new()).ctx("register")?;
    let o = d.kick_wait(reg.handle(), Some(Duration::ZERO)).ctx("kick_wait")?;
    check!(o == Outcome::Recorded, "outcome {}", o);
    check!(reg.take_flags().contains(Flags::KICKED), "flag");
    Ok(())
}

fn forward_turns_a_host_signal_into_a_post(d: &Domain) -> TestResult {
    sigwake::ignore_signal(libc::SIGUSR2).ctx("SIG_IGN")?;
    let reg = d.register(RegisterOptions::new()).ctx("register")?;
    d.forward(libc::SIGUSR2, 15, Target::Thread(reg.handle())).ctx("forward")?;
    // SAFETY: kill(2) of our own process with an ignored signal.
    unsafe { libc::kill(libc::getpid(), libc::SIGUSR2) };
    // The post comes from a kernel worker: wait for it.
    let r = reg.wait(patient()).ctx("wait")?;
    check!(r == Reason::Signal, "reason {}", r);
    check!(reg.take_pending() == SigSet::of(15), "pending");
    d.forward_remove(libc::SIGUSR2).ctx("remove")?;
    let r = d.forward_remove(libc::SIGUSR2);
    check!(matches!(&r, Err(e) if e.kind() == io::ErrorKind::NotFound), "second remove: {:?}", r);
    Ok(())
}

fn preempt_kicks_a_long_guest_stint(d: &Domain) -> TestResult {
    let mut reg = d.register(RegisterOptions::new()).ctx("register")?;
    match d.preempt(PreemptTarget::Thread(reg.handle()), Some(Duration::from_millis(1))) {
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {
            return Err(Fail::Skip("kernel without preempt notifiers".into()))
        }
        r => r.ctx("preempt")?,
    }
    let ran = reg.in_guest(|b| {
        let end = Instant::now() + PATIENCE;
        while !b.kicked() && Instant::now() < end {
            std::hint::spin_loop();
        }
    });
    let preempted = ran.is_ok() && reg.take_flags().contains(Flags::PREEMPTED);
    d.preempt(PreemptTarget::Thread(reg.handle()), None).ctx("preempt off")?;
    check!(preempted, "no TF_PREEMPTED within {:?}", PATIENCE);
    Ok(())
}

fn unregister_by_handle_ends_the_registration(d: &Domain) -> TestResult {
    let reg = d.register(RegisterOptions::new()).ctx("register")?;
    d.unregister(reg.handle()).ctx("unregister")?;
    let r = reg.poll();
    check!(errno(r) == Some(libc::ENOENT), "wait after unregister");
    drop(reg); // finds ENOENT, frees the block
    let _again = d.register(RegisterOptions::new()).ctx("register again")?;
    Ok(())
}

fn leaked_registration_keeps_its_block(d: &Domain) -> TestResult {
    let reg = d.register(RegisterOptions::new()).ctx("register")?;
    let (h, w) = (reg.handle(), reg.watch());
    std::mem::forget(reg);
    // The kernel still writes the block: it must still be there.
    d.kick(h).ctx("kick")?;
    check!(w.kicked(), "kick of a leaked registration not seen in its block");
    d.unregister(h).ctx("unregister")?;
    Ok(())
}

// ---------------------------------------------------------------- runner

type Test = (&'static str, fn(&Domain) -> TestResult);

const TESTS: &[Test] = &[
    ("register_and_drop", register_and_drop),
    ("register_twice_is_eexist", register_twice_is_eexist),
    ("post_in_host_is_recorded_and_refuses_entry", post_in_host_is_recorded_and_refuses_entry),
    ("post_in_guest_kicks", post_in_guest_kicks),
    ("kick_in_host_is_recorded", kick_in_host_is_recorded),
    ("blocked_signal_stays_pending", blocked_signal_stays_pending),
    ("queue_word_mismatch_and_timeout", queue_word_mismatch_and_timeout),
    ("queue_of_another_domain_is_refused", queue_of_another_domain_is_refused),
    ("wake_ends_a_queue_wait", wake_ends_a_queue_wait),
    ("hand_off_wakes_then_waits", hand_off_wakes_then_waits),
    ("post_wakes_a_sleeper", post_wakes_a_sleeper),
    ("post_any_picks_the_waiter", post_any_picks_the_waiter),
    ("ready_fd_ends_a_wait", ready_fd_ends_a_wait),
    ("kick_wait_gets_a_thread_out_of_guest_code", kick_wait_gets_a_thread_out_of_guest_code),
    ("kick_wait_on_a_host_thread_returns_at_once", kick_wait_on_a_host_thread_returns_at_once),
    ("forward_turns_a_host_signal_into_a_post", forward_turns_a_host_signal_into_a_post),
    ("preempt_kicks_a_long_guest_stint", preempt_kicks_a_long_guest_stint),
    ("unregister_by_handle_ends_the_registration", unregister_by_handle_ends_the_registration),
    ("leaked_registration_keeps_its_block", leaked_registration_keeps_its_block),
];

fn main() {
    println!("TAP version 13");
    if !std::path::Path::new("/dev/sigwake").exists() {
        println!("1..0 # SKIP no /dev/sigwake (sigwake.ko not loaded)");
        return;
    }
    // The program's watchdog: SIGALRM's default action ends it.
    // SAFETY: alarm(2) has no memory effects.
    unsafe { libc::alarm(300) };
    let filter: Vec<String> = std::env::args().skip(1).collect();
    let tests: Vec<&Test> = TESTS
        .iter()
        .filter(|(n, _)| filter.is_empty() || filter.iter().any(|f| n.contains(f.as_str())))
        .collect();
    println!("1..{}", tests.len());
    let mut failed = 0;
    for (i, (name, f)) in tests.iter().enumerate() {
        let t0 = Instant::now();
        // A fresh domain per test, closed after it.
        let r = match Domain::open() {
            Ok(d) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&d)))
                .unwrap_or_else(|_| Err(Fail::Fail("panicked".into()))),
            Err(e) => Err(Fail::Fail(format!("open /dev/sigwake: {}", e))),
        };
        println!("# {}: {} ms", name, t0.elapsed().as_millis());
        match r {
            Ok(()) => println!("ok {} {}", i + 1, name),
            Err(Fail::Skip(why)) => println!("ok {} {} # SKIP {}", i + 1, name, why),
            Err(Fail::Fail(why)) => {
                failed += 1;
                println!("# {}", why);
                println!("not ok {} {}", i + 1, name);
            }
        }
    }
    std::process::exit(if failed > 0 { 1 } else { 0 });
}

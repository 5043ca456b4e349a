// SPDX-License-Identifier: LGPL-2.1-or-later
//! rust-vcpu-kick: a rust-vmm style vCPU loop on real KVM_RUN, paused and
//! resumed by sigwake's kick-and-wait (the Rust twin of examples/vcpu-kick.c).
//!
//! Firecracker pauses a vCPU (to save or change its state) by sending the
//! vCPU thread SIGRTMIN; the handler finds the thread's `kvm_run` through
//! TLS and sets `immediate_exit`.  Nobody learns when the vCPU has really
//! left guest code, and a kick that races with the thread's own entry can
//! be lost.  Here the vCPU thread registers once with
//! `kick_signal(SIGRTMIN)` and `kick_byte(&kvm_run.immediate_exit)`, and
//! wraps each KVM_RUN in [`Registration::in_guest`] (a store and a barrier,
//! no syscall).  The VMM pauses it with [`Domain::kick_wait`]: it returns
//! only once the vCPU is out of guest code, re-kicking it meanwhile; a kick
//! that found the thread in host code set TF_KICKED, which refuses its next
//! entry, so the vCPU sees the pause request before it runs guest code
//! again.  A pause that times out (ETIMEDOUT) is a lost kick.
//!
//! The guest is "jmp $" in real mode at 0x1000: it never exits by itself.
//! The KVM FFI below is the minimum for that (no kvm-ioctls crate).
//!
//! Under TCG the pauses that interrupt a running KVM_RUN dominate the run
//! time: most pauses come at once after the previous resume, one in
//! IN_GUEST_ONE_IN once the vCPU is in KVM_RUN.
//!
//! Usage: rust-vcpu-kick [-n pauses] [-t seconds]   (10000, 240)
//! Exit status: 0 no pause lost, 1 a pause lost or an error, 2 no sigwake,
//! 4 no /dev/kvm (skipped: not a pass).

use sigwake::{
    BlockWatch, Domain, Outcome, Reason, RegisterOptions, Registration, ThreadHandle, ThreadState, Timeout, WaitQueue,
};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- KVM FFI

/// The KVM ioctls this example needs, as <linux/kvm.h> encodes them.
mod kvm {
    const KVMIO: u64 = 0xAE;
    const fn io(nr: u64) -> u64 {
        (KVMIO << 8) | nr
    }
    const fn iow(nr: u64, size: u64) -> u64 {
        (1 << 30) | (size << 16) | (KVMIO << 8) | nr
    }
    const fn ior(nr: u64, size: u64) -> u64 {
        (2 << 30) | (size << 16) | (KVMIO << 8) | nr
    }
    pub const API_VERSION: i32 = 12;
    pub const GET_API_VERSION: u64 = io(0x00);
    pub const CREATE_VM: u64 = io(0x01);
    pub const GET_VCPU_MMAP_SIZE: u64 = io(0x04);
    pub const CREATE_VCPU: u64 = io(0x41);
    pub const SET_USER_MEMORY_REGION: u64 = iow(0x46, 32);
    pub const SET_TSS_ADDR: u64 = io(0x47);
    pub const RUN: u64 = io(0x80);
    pub const GET_REGS: u64 = ior(0x81, 144);
    pub const SET_REGS: u64 = iow(0x82, 144);
    pub const GET_SREGS: u64 = ior(0x83, 312);
    pub const SET_SREGS: u64 = iow(0x84, 312);
    pub const EXIT_INTR: u32 = 10;

    /// struct kvm_userspace_memory_region
    #[repr(C)]
    pub struct MemoryRegion {
        pub slot: u32,
        pub flags: u32,
        pub guest_phys_addr: u64,
        pub memory_size: u64,
        pub userspace_addr: u64,
    }

    /// The head of struct kvm_run (the rest is not used here).
    #[repr(C)]
    pub struct RunHead {
        pub request_interrupt_window: u8,
        pub immediate_exit: u8,
        pub padding1: [u8; 6],
        pub exit_reason: u32,
    }

    // struct kvm_regs: 18 u64, rip and rflags the last two; struct
    // kvm_sregs: 312 bytes, cs first (base u64 at 0, selector u16 at 12).
    pub const REGS_WORDS: usize = 18;
    pub const REGS_RIP: usize = 16;
    pub const REGS_RFLAGS: usize = 17;
    pub const SREGS_SIZE: usize = 312;
    pub const SREGS_CS_BASE: usize = 0;
    pub const SREGS_CS_SELECTOR: usize = 12;
}

fn ioctl_val(fd: RawFd, req: u64, arg: libc::c_ulong) -> io::Result<i32> {
    // SAFETY: a KVM ioctl that takes an integer argument.
    let r = unsafe { libc::ioctl(fd, req as libc::c_ulong, arg) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn ioctl_ptr<T>(fd: RawFd, req: u64, arg: *mut T) -> io::Result<i32> {
    // SAFETY: `arg` points to the struct the command reads or writes,
    // of the size its number encodes.
    let r = unsafe { libc::ioctl(fd, req as libc::c_ulong, arg) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Guest code "jmp $" at this guest-physical address.
const GUEST_ADDR: u64 = 0x1000;

/// A VM with one vCPU in real mode spinning at GUEST_ADDR.
struct Vm {
    _kvm: File,
    _vm: OwnedFd,
    mem: *mut u8,
}

/// rust-vmm's VcpuFd: the vCPU and its mmap'ed kvm_run.
struct Vcpu {
    fd: OwnedFd,
    run: *mut kvm::RunHead,
    run_size: usize,
}

// SAFETY: the vCPU is used by one thread at a time (moved into its thread);
// kvm_run is shared with the kernel only.
unsafe impl Send for Vcpu {}

enum VcpuExit {
    /// KVM_RUN returned EINTR with KVM_EXIT_INTR: the kick signal.
    Intr,
    /// KVM_RUN returned EINTR at once: immediate_exit was set.
    Immediate,
    /// Anything else ("jmp $" never exits): exit_reason.
    Other(u32),
}

impl Vcpu {
    fn immediate_exit(&self) -> &AtomicU8 {
        // SAFETY: kvm_run stays mapped while self lives; the kernel writes
        // the byte concurrently, so it is only used atomically.
        unsafe { &*(std::ptr::addr_of_mut!((*self.run).immediate_exit) as *const AtomicU8) }
    }

    fn run(&self) -> io::Result<VcpuExit> {
        // SAFETY: exit_reason is read and written by us between KVM_RUNs.
        unsafe { std::ptr::addr_of_mut!((*self.run).exit_reason).write_volatile(0) };
        match ioctl_val(self.fd.as_raw_fd(), kvm::RUN, 0) {
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {
                // SAFETY: as above.
                let why = unsafe { std::ptr::addr_of!((*self.run).exit_reason).read_volatile() };
                Ok(if why == kvm::EXIT_INTR { VcpuExit::Intr } else { VcpuExit::Immediate })
            }
            Err(e) => Err(e),
            // SAFETY: as above.
            Ok(_) => Ok(VcpuExit::Other(unsafe { std::ptr::addr_of!((*self.run).exit_reason).read_volatile() })),
        }
    }
}

impl Drop for Vcpu {
    fn drop(&mut self) {
        // SAFETY: our own mapping of kvm_run.
        unsafe { libc::munmap(self.run.cast(), self.run_size) };
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        // SAFETY: our own guest memory mapping.
        unsafe { libc::munmap(self.mem.cast(), 0x1000) };
    }
}

fn adopt(fd: i32) -> OwnedFd {
    // SAFETY: a fresh descriptor returned by a KVM ioctl.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Ok(None): no /dev/kvm.
fn kvm_setup() -> Result<Option<(Vm, Vcpu)>, (String, io::Error)> {
    let kvm = match OpenOptions::new().read(true).write(true).custom_flags(libc::O_CLOEXEC).open("/dev/kvm") {
        Ok(f) => f,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENXIO) | Some(libc::ENODEV)) => {
            return Ok(None)
        }
        Err(e) => return Err(("open /dev/kvm".into(), e)),
    };
    let ctx = |what: &str| {
        let what = what.to_string();
        move |e| (what, e)
    };
    let k = kvm.as_raw_fd();
    let v = ioctl_val(k, kvm::GET_API_VERSION, 0).map_err(ctx("KVM_GET_API_VERSION"))?;
    if v != kvm::API_VERSION {
        return Err(("KVM_GET_API_VERSION".into(), io::Error::from_raw_os_error(libc::EPROTO)));
    }
    let vm = adopt(ioctl_val(k, kvm::CREATE_VM, 0).map_err(ctx("KVM_CREATE_VM"))?);
    // Needed for real mode on Intel without unrestricted guest.
    let _ = ioctl_val(vm.as_raw_fd(), kvm::SET_TSS_ADDR, 0xfffb_d000);
    // SAFETY: a fresh anonymous mapping.
    let mem = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            0x1000,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if mem == libc::MAP_FAILED {
        return Err(("guest memory".into(), io::Error::last_os_error()));
    }
    let mem = mem as *mut u8;
    // SAFETY: the page is ours; "jmp $".
    unsafe {
        *mem = 0xeb;
        *mem.add(1) = 0xfe;
    }
    let vmo = Vm { _kvm: kvm, _vm: vm, mem };
    let mut region = kvm::MemoryRegion {
        slot: 0,
        flags: 0,
        guest_phys_addr: GUEST_ADDR,
        memory_size: 0x1000,
        userspace_addr: mem as u64,
    };
    ioctl_ptr(vmo._vm.as_raw_fd(), kvm::SET_USER_MEMORY_REGION, &mut region).map_err(ctx("KVM_SET_USER_MEMORY_REGION"))?;
    let fd = adopt(ioctl_val(vmo._vm.as_raw_fd(), kvm::CREATE_VCPU, 0).map_err(ctx("KVM_CREATE_VCPU"))?);
    let size = ioctl_val(k, kvm::GET_VCPU_MMAP_SIZE, 0).map_err(ctx("KVM_GET_VCPU_MMAP_SIZE"))? as usize;
    // SAFETY: mapping the vCPU's kvm_run, as KVM documents.
    let run = unsafe {
        libc::mmap(std::ptr::null_mut(), size, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd.as_raw_fd(), 0)
    };
    if run == libc::MAP_FAILED {
        return Err(("mmap kvm_run".into(), io::Error::last_os_error()));
    }
    let vcpu = Vcpu { fd, run: run.cast(), run_size: size };
    let mut sregs = [0u8; kvm::SREGS_SIZE];
    let f = vcpu.fd.as_raw_fd();
    ioctl_ptr(f, kvm::GET_SREGS, sregs.as_mut_ptr()).map_err(ctx("KVM_GET_SREGS"))?;
    sregs[kvm::SREGS_CS_BASE..kvm::SREGS_CS_BASE + 8].copy_from_slice(&0u64.to_ne_bytes());
    sregs[kvm::SREGS_CS_SELECTOR..kvm::SREGS_CS_SELECTOR + 2].copy_from_slice(&0u16.to_ne_bytes());
    ioctl_ptr(f, kvm::SET_SREGS, sregs.as_mut_ptr()).map_err(ctx("KVM_SET_SREGS"))?;
    let mut regs = [0u64; kvm::REGS_WORDS];
    regs[kvm::REGS_RIP] = GUEST_ADDR;
    regs[kvm::REGS_RFLAGS] = 0x2;
    ioctl_ptr(f, kvm::SET_REGS, regs.as_mut_ptr()).map_err(ctx("KVM_SET_REGS"))?;
    let _ = kvm::GET_REGS;
    Ok(Some((vmo, vcpu)))
}

// ---------------------------------------------------------------- the pause protocol

/// Shared between the VMM and the vCPU thread.
#[derive(Default)]
struct Pause {
    request: AtomicU32, // VMM: "pause", a sequence number
    ack: AtomicU32,     // vCPU: the request it has seen
    resume: AtomicU32,  // VMM: "resume"; the word of the park queue
    stop: AtomicBool,
    // vCPU counters
    entries: AtomicU64,
    refused: AtomicU64,
    exits_intr: AtomicU64,
    exits_immediate: AtomicU64,
    parks: AtomicU64,
}

/// A parked vCPU yields this many times before it sleeps in WAIT.
const PARK_SPINS: u32 = 200;
const PATIENCE: Duration = Duration::from_secs(20);
const KICK_TIMEOUT: Duration = Duration::from_secs(10);
/// One pause in this many waits until the vCPU is in KVM_RUN.
const IN_GUEST_ONE_IN: u64 = 64;

/// The vCPU thread's loop: run guest code unless paused.
fn vcpu_loop(reg: &mut Registration<'_>, vcpu: &Vcpu, p: &Pause, park: &WaitQueue<'_, '_>) -> io::Result<()> {
    let mut ack = 0;
    while !p.stop.load(Ordering::Acquire) {
        let req = p.request.load(Ordering::Acquire);
        if req != ack {
            // Paused: acknowledge, then park until resumed: spin a
            // little, then sleep in WAIT on the resume word.
            ack = req;
            p.ack.store(req, Ordering::Release);
            p.parks.fetch_add(1, Ordering::Relaxed);
            let mut spins = 0;
            loop {
                let w = p.resume.load(Ordering::Acquire);
                if w == req || p.stop.load(Ordering::Acquire) {
                    break;
                }
                spins += 1;
                if spins < PARK_SPINS {
                    std::thread::yield_now();
                    continue;
                }
                match reg.wait_on(park, w, Timeout::After(PATIENCE)) {
                    Ok(Reason::Kick) => {
                        reg.take_flags();
                    }
                    Ok(_) => {}
                    Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EINTR)) => {}
                    Err(e) => return Err(e),
                }
            }
            continue;
        }
        // The Dekker entry: RUNNING_IN_GUEST, barrier, re-check; KVM_RUN
        // inside; RUNNING_IN_HOST after (what kick_wait waits for).
        match reg.in_guest(|_| vcpu.run()) {
            Err(_refused) => {
                p.refused.fetch_add(1, Ordering::Relaxed);
                reg.take_pending();
            }
            Ok(r) => {
                p.entries.fetch_add(1, Ordering::Relaxed);
                match r? {
                    VcpuExit::Intr => p.exits_intr.fetch_add(1, Ordering::Relaxed),
                    VcpuExit::Immediate => p.exits_immediate.fetch_add(1, Ordering::Relaxed),
                    VcpuExit::Other(why) => {
                        return Err(io::Error::new(io::ErrorKind::Other, format!("unexpected KVM exit {}", why)))
                    }
                };
            }
        }
        vcpu.immediate_exit().store(0, Ordering::Relaxed);
        reg.take_flags();
    }
    Ok(())
}

/// xorshift64*
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(2_685_821_657_736_338_717)
    }
}

fn spin(d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

/// Kick at a random point of the vCPU's loop: mostly at once (it is then
/// parked, leaving its park or entering: the races with its entry), now
/// and then after a yield or a short spin, and one time in IN_GUEST_ONE_IN
/// once it is in guest code (KVM_RUN).  Under TCG an interrupted nested KVM_RUN costs tens of
/// milliseconds, and the demo shares its VM's time with the C demos.
fn random_moment(watch: &BlockWatch, rng: &mut Rng) {
    let r = rng.next() % IN_GUEST_ONE_IN;
    if r == 0 {
        let end = Instant::now() + Duration::from_millis(5);
        while watch.state() != Some(ThreadState::RunningInGuest) && Instant::now() < end {
            std::hint::spin_loop();
        }
        spin(Duration::from_micros(rng.next() % 10));
    } else if r < 4 {
        spin(Duration::from_micros(rng.next() % 10));
    } else if r < 8 {
        std::thread::yield_now();
    }
}

fn usage() -> ! {
    eprintln!("usage: rust-vcpu-kick [-n pauses] [-t seconds]");
    std::process::exit(2)
}

fn main() {
    let mut n: u32 = 10_000;
    let mut limit = Duration::from_secs(240);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "-n" => n = v.parse().unwrap_or_else(|_| usage()),
            "-t" => limit = Duration::from_secs(v.parse().unwrap_or_else(|_| usage())),
            _ => usage(),
        }
    }
    let domain = match Domain::open() {
        Ok(d) => d,
        Err(e) => {
            println!("rust-vcpu-kick: cannot open /dev/sigwake: {} (is sigwake.ko loaded?)", e);
            std::process::exit(2);
        }
    };
    let (_vm, vcpu) = match kvm_setup() {
        Ok(Some(x)) => x,
        Ok(None) => {
            println!("rust-vcpu-kick: SKIPPED: no /dev/kvm (this is not a pass)");
            std::process::exit(4);
        }
        Err((what, e)) => {
            println!("rust-vcpu-kick: FAIL: {}: {}", what, e);
            std::process::exit(1);
        }
    };
    // The kick signal, as rust-vmm: SIGRTMIN, no SA_RESTART, a handler
    // that does nothing (the signal only makes KVM_RUN return EINTR).
    let kick_signo = libc::SIGRTMIN();
    if let Err(e) = sigwake::install_noop_handler(kick_signo, false) {
        println!("rust-vcpu-kick: FAIL: sigaction: {}", e);
        std::process::exit(1);
    }

    let p = Pause::default();
    let park = match domain.wait_queue_on(&p.resume) {
        Ok(q) => q,
        Err(e) => {
            println!("rust-vcpu-kick: FAIL: wait queue: {}", e);
            std::process::exit(1);
        }
    };
    let (mut lost, mut errors, mut unacked, mut done) = (0u32, 0u32, 0u32, 0u32);
    let (mut in_guest, mut in_host, mut parked) = (0u32, 0u32, 0u32);
    let mut worst = Duration::ZERO;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let t0 = Instant::now();
    let vcpu_result = std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel::<io::Result<(ThreadHandle, BlockWatch)>>();
        let (domain, p, park) = (&domain, &p, &park);
        let th = s.spawn(move || -> io::Result<()> {
            let vcpu = vcpu;
            // SAFETY: kvm_run (immediate_exit) stays mapped until `vcpu`
            // drops, after the registration (declared after it) ends.
            let opts = unsafe {
                RegisterOptions::new()
                    .kick_signal(kick_signo)
                    .kick_byte(std::ptr::addr_of_mut!((*vcpu.run).immediate_exit))
            };
            let mut reg = match domain.register(opts) {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.send(Err(io::Error::from(e.kind())));
                    return Err(e);
                }
            };
            tx.send(Ok((reg.handle(), reg.watch()))).unwrap();
            vcpu_loop(&mut reg, &vcpu, p, park)
        });
        let (h, watch) = match rx.recv() {
            Ok(Ok(x)) => x,
            _ => return th.join().unwrap(),
        };
        for seq in 1..=n {
            if t0.elapsed() > limit || th.is_finished() {
                break;
            }
            done += 1;
            random_moment(&watch, &mut rng);
            // Pause: ask, kick, and wait until the vCPU is out of guest code.
            p.request.store(seq, Ordering::Release);
            let t = Instant::now();
            let r = domain.kick_wait(h, Some(KICK_TIMEOUT));
            worst = worst.max(t.elapsed());
            match r {
                Ok(Outcome::Kicked) => in_guest += 1,
                Ok(Outcome::Recorded) => in_host += 1,
                Ok(Outcome::Woken) => parked += 1,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    lost += 1;
                    println!("  pause {}: the vCPU was still in guest code after {:?} (lost)", seq, KICK_TIMEOUT);
                    if lost >= 10 {
                        break;
                    }
                }
                Err(e) => {
                    errors += 1;
                    println!("  pause {}: kick_wait: {}", seq, e);
                    if errors >= 10 {
                        break;
                    }
                }
            }
            // Out of guest code, it cannot enter again before it sees the
            // request: wait for its acknowledgement, then resume it.
            let end = Instant::now() + PATIENCE;
            while p.ack.load(Ordering::Acquire) != seq {
                if Instant::now() > end {
                    unacked += 1;
                    break;
                }
                std::thread::yield_now();
            }
            p.resume.store(seq, Ordering::Release);
            let _ = park.wake(1);
        }
        // Stop: the flag, a resume, a wake, a kick until it is out.
        p.stop.store(true, Ordering::Release);
        p.resume.fetch_add(1, Ordering::Release);
        let _ = park.wake(1);
        let end = Instant::now() + PATIENCE;
        while let Err(e) = domain.kick_wait(h, Some(KICK_TIMEOUT)) {
            if e.kind() != io::ErrorKind::TimedOut || Instant::now() > end {
                break;
            }
        }
        th.join().unwrap()
    });
    let elapsed = t0.elapsed();
    let mut failed = lost > 0 || errors > 0 || unacked > 0;
    if let Err(e) = &vcpu_result {
        println!("  FAIL: the vCPU loop failed: {}", e);
        failed = true;
    }
    let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
    println!(
        "rust KVM_RUN vCPU: {} pauses by kick-and-wait (immediate_exit as the kick byte): {} lost, {} errors, {} unacknowledged; \
         the first kick found the vCPU in guest code {} times, in host code {}, parked {}; KVM_RUN returned {} times on the \
         kick signal (KVM_EXIT_INTR) and {} at once on immediate_exit; {} entries refused (TF_KICKED), {} guest entries; \
         {} parks; slowest pause {:?}; in {:.2?}{}",
        done,
        lost,
        errors,
        unacked,
        in_guest,
        in_host,
        parked,
        c(&p.exits_intr),
        c(&p.exits_immediate),
        c(&p.refused),
        c(&p.entries),
        c(&p.parks),
        worst,
        elapsed,
        if done < n { " (stopped early at the -t time limit)" } else { "" }
    );
    if done < n {
        failed = true;
        println!("  FAIL: only {} of {} pauses ran within {:?}", done, n, limit);
    }
    std::process::exit(if failed { 1 } else { 0 });
}

//! A desk to test Murmur's desktop app at: a real X server (Xvfb) with a window manager
//! (openbox) and a D-Bus session, and a real sound server (PulseAudio) whose default
//! microphone is fed by whatever the test plays into it and whose default speakers are a null
//! sink the test records. Everything lives in a temporary folder and dies with the value.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::murmurd::{Launch, Murmurd};

mod acts;
mod portal;
mod session;
mod speakers;

pub use acts::{dictate, dictations, focused_window, ready_app, speech_file, typing_target, xterm};
pub use portal::{Binding, Portal};
pub use session::Session;
pub use speakers::{Speakers, wav};

/// The sink the test plays speech into; the default microphone listens to its monitor.
pub const MIC_FEED: &str = "mic_feed";
/// The default speakers, a null sink; the test records its monitor.
pub const SPEAKERS: &str = "speakers";

/// The built desktop app beside the test executable (`cargo build --workspace --bins`).
pub fn app_binary() -> PathBuf {
    let murmurd = crate::murmurd::binary();
    let app = murmurd.with_file_name(format!("murmur{}", std::env::consts::EXE_SUFFIX));
    assert!(
        app.exists(),
        "{} is missing: run `cargo build --workspace --bins` (make test does)",
        app.display()
    );
    app
}

pub struct Desk {
    pub dir: tempfile::TempDir,
    pub display: String,
    env: Vec<(String, String)>,
    children: Vec<Child>,
}

impl Desk {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut desk = Self {
            display: String::new(),
            // An X11 session, whatever session runs the tests (`set_env` makes it Wayland).
            env: vec![("XDG_SESSION_TYPE".into(), "x11".into())],
            children: Vec::new(),
            dir,
        };
        desk.start_x();
        desk.start_dbus();
        let openbox = desk.command("openbox").spawn().expect("openbox");
        desk.children.push(openbox);
        desk.start_pulse();
        // The window manager has taken the screen once it names a supporting window.
        wait("openbox", Duration::from_secs(10), || {
            desk.command("xprop")
                .args(["-root", "_NET_SUPPORTING_WM_CHECK"])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("window id"))
        });
        desk
    }

    fn start_x(&mut self) {
        for n in 0..50 {
            let number = 150 + (std::process::id() % 500) + n * 7;
            if Path::new(&format!("/tmp/.X{number}-lock")).exists() {
                continue;
            }
            let display = format!(":{number}");
            let xvfb = Command::new("Xvfb")
                .args([&display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("Xvfb (install xvfb)");
            self.children.push(xvfb);
            let socket = format!("/tmp/.X11-unix/X{number}");
            let up = wait_until(Duration::from_secs(10), || Path::new(&socket).exists());
            if up {
                self.display = display.clone();
                self.env.push(("DISPLAY".into(), display));
                return;
            }
        }
        panic!("no X display could be started");
    }

    fn start_dbus(&mut self) {
        let mut dbus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon");
        let mut address = String::new();
        BufReader::new(dbus.stdout.take().expect("stdout"))
            .read_line(&mut address)
            .expect("the bus's address");
        self.children.push(dbus);
        self.env
            .push(("DBUS_SESSION_BUS_ADDRESS".into(), address.trim().into()));
    }

    fn start_pulse(&mut self) {
        let runtime = self.dir.path().join("pulse");
        std::fs::create_dir_all(&runtime).expect("pulse folder");
        let socket = runtime.join("native");
        let home = self.dir.path().join("home");
        std::fs::create_dir_all(&home).expect("home");
        let pulse = Command::new("pulseaudio")
            .args([
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--use-pid-file=no",
            ])
            .arg(format!(
                "--load=module-native-protocol-unix socket={}",
                socket.display()
            ))
            .arg(format!("--load=module-null-sink sink_name={SPEAKERS}"))
            .arg(format!("--load=module-null-sink sink_name={MIC_FEED}"))
            .arg(format!(
                "--load=module-remap-source source_name=microphone master={MIC_FEED}.monitor"
            ))
            .env("HOME", &home)
            .env("XDG_RUNTIME_DIR", &runtime)
            .env_remove("DISPLAY")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.path().join("pulse.log")).expect("log"))
            .spawn()
            .expect("pulseaudio (install pulseaudio)");
        self.children.push(pulse);
        self.env
            .push(("PULSE_SERVER".into(), format!("unix:{}", socket.display())));
        wait("PulseAudio", Duration::from_secs(15), || {
            self.command("pactl")
                .arg("info")
                .output()
                .is_ok_and(|o| o.status.success())
        });
        for (what, name) in [
            ("set-default-sink", SPEAKERS),
            ("set-default-source", "microphone"),
        ] {
            let status = self
                .command("pactl")
                .args([what, name])
                .status()
                .expect("pactl");
            assert!(status.success(), "pactl {what} {name}");
        }
    }

    /// `program` with this desk's display, bus and sound server.
    pub fn command(&self, program: &str) -> Command {
        self.clone_env().command(program)
    }

    /// Run `xdotool args…`, answering its output.
    pub fn xdotool(&self, args: &[&str]) -> String {
        let out = self
            .command("xdotool")
            .args(args)
            .output()
            .expect("xdotool");
        assert!(
            out.status.success(),
            "xdotool {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Run `xdotool args…`, answering its output (empty when it fails: a search that found
    /// nothing).
    pub fn xdotool_maybe(&self, args: &[&str]) -> String {
        let out = self
            .command("xdotool")
            .args(args)
            .output()
            .expect("xdotool");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// What another thread needs to reach this desk's programs.
    pub fn clone_env(&self) -> Session {
        Session {
            env: self.env.clone(),
            home: self.dir.path().join("home"),
        }
    }

    /// The app's tray label ([`Session::tray_label`]).
    pub fn tray_label(&self) -> Option<String> {
        self.clone_env().tray_label()
    }

    /// The address of the desk's D-Bus session.
    pub fn bus_address(&self) -> String {
        self.env
            .iter()
            .find(|(k, _)| k == "DBUS_SESSION_BUS_ADDRESS")
            .map(|(_, v)| v.clone())
            .expect("the desk has a session bus")
    }

    /// Set `key` to `value` for every program started from now on (the app included).
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
    }

    /// Keep `child` until the desk goes.
    pub fn keep(&mut self, child: Child) {
        self.children.push(child);
    }

    /// The desktop app, with `config`, its API on a free port; the settings window stays
    /// closed (it is not the first launch).
    pub fn app(&self, config: &str) -> Murmurd {
        let data_dir = tempfile::tempdir().expect("data dir");
        std::fs::write(data_dir.path().join(".launched"), b"").expect("marker");
        let mut launch = Launch::with_config(config);
        launch.data_dir = Some(data_dir);
        launch.env = self.env.clone();
        launch.env.push((
            "HOME".into(),
            self.dir.path().join("home").display().to_string(),
        ));
        Murmurd::launch_binary(&app_binary(), launch, &[])
            .unwrap_or_else(|(status, stderr)| panic!("murmur exited with {status}:\n{stderr}"))
    }

    /// Play a WAV file into the microphone.
    pub fn say_into_microphone(&self, wav: &Path) -> Child {
        self.command("paplay")
            .args(["--device", MIC_FEED])
            .arg(wav)
            .spawn()
            .expect("paplay")
    }

    /// Record the speakers as 16 kHz mono 16-bit samples, as they are played.
    pub fn listen_to_speakers(&self) -> Speakers {
        let mut parec = self.command("parec");
        parec.args([
            "--device",
            &format!("{SPEAKERS}.monitor"),
            "--format=s16le",
            "--rate=16000",
            "--channels=1",
            "--latency-msec=10",
        ]);
        Speakers::record(parec)
    }

    /// The clipboard's (or the primary selection's) text, as another app reads it.
    pub fn clipboard(&self, selection: &str) -> String {
        let out = self
            .command("xclip")
            .args(["-selection", selection, "-o"])
            .output()
            .expect("xclip");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Put `text` on the clipboard as another app would (xclip keeps serving it).
    pub fn set_clipboard(&mut self, text: &str) {
        let mut xclip = self
            .command("xclip")
            .args(["-selection", "clipboard", "-quiet"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("xclip");
        use std::io::Write;
        xclip
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write");
        self.children.push(xclip);
        wait("the clipboard", Duration::from_secs(5), || {
            self.clipboard("clipboard") == text
        });
    }
}

impl Drop for Desk {
    fn drop(&mut self) {
        // SIGTERM first: Xvfb removes its lock file and socket, PulseAudio its runtime files.
        for child in self.children.iter_mut().rev() {
            if let Ok(pid) = i32::try_from(child.id()) {
                // SAFETY: kill(2) on our own child's pid has no memory-safety concerns.
                #[allow(unsafe_code)]
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
            let gone = wait_until(Duration::from_secs(3), || {
                matches!(child.try_wait(), Ok(Some(_)))
            });
            if !gone {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

fn wait_until(within: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Wait for `ready`, or fail naming `what`.
pub fn wait(what: &str, within: Duration, ready: impl FnMut() -> bool) {
    assert!(
        wait_until(within, ready),
        "{what} was not ready within {within:?}"
    );
}

//! Test support: a small HTTP server on 127.0.0.1, so that downloads are tested
//! without the internet.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Serves files from `dir` at `/<name>`; `/broken/<name>` serves the file with its
/// last byte flipped, `/cut/<name>` announces the full length but sends half. Returns
/// the base URL and a request counter. The server stops after `max_requests`.
pub fn serve(dir: PathBuf, max_requests: usize) -> std::io::Result<(String, Arc<AtomicUsize>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(max_requests) {
            let Ok(mut stream) = stream else { continue };
            c.fetch_add(1, Ordering::SeqCst);
            let Ok(clone) = stream.try_clone() else {
                continue;
            };
            let mut reader = BufReader::new(clone);
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                match reader.read_line(&mut h) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if h == "\r\n" => break,
                    Ok(_) => {}
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let (mode, name) = match path.trim_start_matches('/').split_once('/') {
                Some((m, n)) => (m.to_string(), n.to_string()),
                None => (String::new(), path.trim_start_matches('/').to_string()),
            };
            let file = match mode.as_str() {
                "" | "broken" | "cut" => std::fs::read(dir.join(&name)),
                _ => Err(std::io::ErrorKind::NotFound.into()),
            };
            match file {
                Ok(mut body) => {
                    let len = body.len();
                    if mode == "broken" {
                        if let Some(b) = body.last_mut() {
                            *b ^= 0xff;
                        }
                    }
                    if mode == "cut" {
                        body.truncate(len / 2);
                    }
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
                    );
                    let _ = stream.write_all(&body);
                }
                Err(_) => {
                    let _ = write!(
                        stream,
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                }
            }
        }
    });
    Ok((format!("http://{addr}"), count))
}

/// The shared real data sets (`../shared/datasets` beside the repository), or
/// `$WICK_SHARED_DATASETS` when set (a git worktree elsewhere); `None` when absent, so
/// that tests using them skip.
pub fn shared_datasets() -> Option<PathBuf> {
    let p = match std::env::var_os("WICK_SHARED_DATASETS") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets"),
    };
    p.is_dir().then_some(p)
}

//! Hugging Face hub datasets when the hub cannot be reached (its endpoint is a
//! closed port on this machine) and `HF_HUB_OFFLINE` is not set: the file list comes
//! from the cached snapshot, with a warning, and a dataset that is not cached gives
//! an error saying the hub cannot be reached. A process of its own, since it sets
//! the environment differently from `tests/hub.rs`.
#![cfg(feature = "hub")]

mod common_hub;

use common_hub::*;
use wick_data::{Split, Target};

/// The hub at a port nothing listens on (bound, then released); every test sets the
/// same kind of value.
fn unreachable_hub() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::env::set_var("HF_ENDPOINT", format!("http://127.0.0.1:{port}"));
    std::env::remove_var("HF_HUB_OFFLINE");
    std::env::remove_var("HF_DATASETS_OFFLINE");
}

#[test]
fn the_cache_is_used_when_the_hub_cannot_be_reached() {
    unreachable_hub();
    let cache = digits_cache();
    let ds = config(cache.path(), "").build(&ctx(Split::Test)).unwrap();
    assert_eq!(ds.len(), 4);
    assert_eq!(gray(&ds.get(3).unwrap()).0, want(11));
    assert_eq!(ds.get(3).unwrap().target, Target::Class(label(11) as u32));
    // neither cached nor reachable
    let empty = tempfile::tempdir().unwrap();
    let e = config(empty.path(), "")
        .build(&ctx(Split::Train))
        .err()
        .unwrap()
        .to_string();
    for part in [
        "wick-test/digits at revision refs/convert/parquet is not in the hub cache",
        &empty.path().display().to_string(),
        "the hub cannot be reached",
    ] {
        assert!(e.contains(part), "{part:?} not in: {e}");
    }
    // a listed file missing from the cache is downloaded, and cannot be
    let e = config(cache.path(), "data_files = \"digits/train/0009.parquet\"")
        .build(&ctx(Split::Train))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("digits/train/0009.parquet of the Hugging Face dataset"),
        "{e}"
    );
    assert!(e.contains("the hub cannot be reached"), "{e}");
}

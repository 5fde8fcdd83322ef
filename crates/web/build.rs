//! Build-time asset pipeline of `refettorio-web`.
//!
//! 1. Installs the pinned npm packages (`assets/package.json` + `assets/package-lock.json`:
//!    Bootstrap Italia and htmx) into `$OUT_DIR/npm` with `npm ci`, only when they are missing
//!    or the lock file changed (a stamp file keeps the lock the install was made from).
//! 2. Writes `$OUT_DIR/assets.rs`: a sorted static table of every file served under `/static/`,
//!    embedded with `include_bytes!`, with its content type and an ETag (FNV-1a 64 of the bytes).
//!    `src/assets.rs` includes it.
//!
//! Needs Node.js and npm (set `REFETTORIO_NPM` to use an npm that is not `npm` on `PATH`).
//! Uses std only, so it adds no build dependency.

use std::collections::BTreeMap;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Files taken from `node_modules/bootstrap-italia/dist`, served under `bootstrap-italia/`.
const BOOTSTRAP_ITALIA_FILES: &[&str] = &[
    "css/bootstrap-italia.min.css",
    "js/bootstrap-italia.bundle.min.js",
    "svg/sprites.svg",
];

/// Font families in `dist/fonts`. `bootstrap.loadFonts(path)` declares each face with
/// `src: local(''), url(.eot), url(.woff2), url(.woff), url(.ttf), url(.svg)`; a browser takes the
/// first format it supports, and every browser we target supports woff2, so only the `.woff2`
/// files (plus each family's licence) are embedded. The CSS itself references no font file.
const BOOTSTRAP_ITALIA_FONT_DIRS: &[&str] = &["Titillium_Web", "Lora", "Roboto_Mono"];

/// Licence files shipped alongside (BSD-3 asks binary redistributions to carry the notice).
const BOOTSTRAP_ITALIA_LICENSE: &str = "LICENSE";

/// Files taken from `node_modules/htmx.org`: (source path, public path under `/static/`).
const HTMX_FILES: &[(&str, &str)] = &[("dist/htmx.min.js", "htmx.min.js")];

const NPM_ENV: &str = "REFETTORIO_NPM";
const STAMP_FILE: &str = ".refettorio-lock-stamp";

fn main() {
    if let Err(message) = run() {
        // `cargo::error` fails the build once the script ends; one directive per line.
        for line in message.lines().filter(|l| !l.trim().is_empty()) {
            println!("cargo::error={line}");
        }
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env_var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env_var("OUT_DIR")?);
    let assets_dir = manifest_dir.join("assets");
    let package_json = assets_dir.join("package.json");
    let package_lock = assets_dir.join("package-lock.json");
    let static_dir = assets_dir.join("static");

    println!("cargo::rerun-if-changed={}", package_json.display());
    println!("cargo::rerun-if-changed={}", package_lock.display());
    println!("cargo::rerun-if-changed={}", static_dir.display());
    println!("cargo::rerun-if-env-changed={NPM_ENV}");

    let npm_dir = out_dir.join("npm");
    let node_modules = npm_dir.join("node_modules");
    install_npm_packages(&package_json, &package_lock, &npm_dir, &node_modules)?;

    let mut files = BTreeMap::new();
    let bi_dist = node_modules.join("bootstrap-italia").join("dist");
    for rel in BOOTSTRAP_ITALIA_FILES {
        add_file(
            &mut files,
            format!("bootstrap-italia/{rel}"),
            bi_dist.join(rel),
        )?;
    }
    for family in BOOTSTRAP_ITALIA_FONT_DIRS {
        let dir = bi_dist.join("fonts").join(family);
        let mut found_woff2 = false;
        for entry in sorted_dir_entries(&dir)? {
            let Some(name) = entry
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_owned)
            else {
                continue;
            };
            let is_woff2 = name.ends_with(".woff2");
            let is_licence = name.ends_with(".txt");
            if is_woff2 || is_licence {
                found_woff2 |= is_woff2;
                add_file(
                    &mut files,
                    format!("bootstrap-italia/fonts/{family}/{name}"),
                    entry,
                )?;
            }
        }
        if !found_woff2 {
            return Err(format!(
                "no .woff2 font found in {}: the installed bootstrap-italia has a different layout",
                dir.display()
            ));
        }
    }
    add_file(
        &mut files,
        format!("bootstrap-italia/{BOOTSTRAP_ITALIA_LICENSE}"),
        node_modules
            .join("bootstrap-italia")
            .join(BOOTSTRAP_ITALIA_LICENSE),
    )?;
    for (src, public) in HTMX_FILES {
        add_file(
            &mut files,
            (*public).to_owned(),
            node_modules.join("htmx.org").join(src),
        )?;
    }
    add_static_dir(&mut files, &static_dir, &static_dir)?;

    let lock_text = read_to_string(&package_lock)?;
    let bi_version = locked_version(&lock_text, "bootstrap-italia")?;
    let htmx_version = locked_version(&lock_text, "htmx.org")?;

    let generated = generate(&files, &bi_version, &htmx_version)?;
    write_if_changed(&out_dir.join("assets.rs"), generated.as_bytes())
}

/// Runs `npm ci` in `$OUT_DIR/npm` unless the install there matches the current lock file.
fn install_npm_packages(
    package_json: &Path,
    package_lock: &Path,
    npm_dir: &Path,
    node_modules: &Path,
) -> Result<(), String> {
    let lock = fs::read(package_lock).map_err(|e| io_error("read", package_lock, &e))?;
    let manifest = fs::read(package_json).map_err(|e| io_error("read", package_json, &e))?;
    let stamp_path = npm_dir.join(STAMP_FILE);
    let stamp_matches = fs::read(&stamp_path).is_ok_and(|stamp| stamp == lock);
    if stamp_matches && is_installed(node_modules) {
        return Ok(());
    }

    fs::create_dir_all(npm_dir).map_err(|e| io_error("create", npm_dir, &e))?;
    // A stale stamp must not survive a failed install.
    match fs::remove_file(&stamp_path) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(io_error("remove", &stamp_path, &e)),
    }
    write_if_changed(&npm_dir.join("package.json"), &manifest)?;
    write_if_changed(&npm_dir.join("package-lock.json"), &lock)?;

    let npm = env::var_os(NPM_ENV)
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| if cfg!(windows) { "npm.cmd" } else { "npm" }.into());
    let npm_shown = PathBuf::from(&npm).display().to_string();
    let output = Command::new(&npm)
        .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
        .current_dir(npm_dir)
        .output()
        .map_err(|e| {
            if e.kind() == ErrorKind::NotFound {
                format!(
                    "refettorio-web embeds Bootstrap Italia and htmx, installed from the npm registry \
                     at build time, and could not find `{npm_shown}`.\n\
                     Install Node.js (18 or newer) with npm, e.g. `apt-get install nodejs npm`, \
                     or set {NPM_ENV} to the path of the npm executable."
                )
            } else {
                format!("could not run `{npm_shown} ci` in {}: {e}", npm_dir.display())
            }
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let mut message = format!(
            "`{npm_shown} ci --ignore-scripts` failed ({}) in {}.\n\
             refettorio-web needs Node.js and npm and access to the npm registry (or a warm npm \
             cache) to install Bootstrap Italia and htmx from crates/web/assets/package-lock.json.\n\
             npm said:",
            output.status,
            npm_dir.display()
        );
        let lines: Vec<&str> = stdout
            .lines()
            .chain(stderr.lines())
            .filter(|l| !l.trim().is_empty() && !l.contains("Unknown user config"))
            .collect();
        for line in &lines[lines.len().saturating_sub(20)..] {
            message.push('\n');
            message.push_str(line);
        }
        return Err(message);
    }
    if !is_installed(node_modules) {
        return Err(format!(
            "`{npm_shown} ci` succeeded but {} lacks bootstrap-italia/dist or htmx.org/dist",
            node_modules.display()
        ));
    }
    fs::write(&stamp_path, &lock).map_err(|e| io_error("write", &stamp_path, &e))
}

fn is_installed(node_modules: &Path) -> bool {
    node_modules.join("bootstrap-italia").join("dist").is_dir()
        && node_modules.join("htmx.org").join("dist").is_dir()
}

/// Adds every regular file under `dir` (recursively, skipping dot-files), keyed by its path
/// relative to `root` with `/` separators.
fn add_static_dir(
    files: &mut BTreeMap<String, PathBuf>,
    root: &Path,
    dir: &Path,
) -> Result<(), String> {
    if !dir.exists() {
        return Ok(());
    }
    for entry in sorted_dir_entries(dir)? {
        let Some(name) = entry.file_name().and_then(|n| n.to_str()) else {
            return Err(format!("non UTF-8 file name in {}", dir.display()));
        };
        if name.starts_with('.') {
            continue;
        }
        if entry.is_dir() {
            add_static_dir(files, root, &entry)?;
        } else if entry.is_file() {
            let rel = entry
                .strip_prefix(root)
                .map_err(|e| format!("{}: {e}", entry.display()))?;
            let mut key = String::new();
            for part in rel.components() {
                let part = part
                    .as_os_str()
                    .to_str()
                    .ok_or_else(|| format!("non UTF-8 path {}", entry.display()))?;
                if !key.is_empty() {
                    key.push('/');
                }
                key.push_str(part);
            }
            add_file(files, key, entry)?;
        }
    }
    Ok(())
}

fn add_file(
    files: &mut BTreeMap<String, PathBuf>,
    key: String,
    path: PathBuf,
) -> Result<(), String> {
    if !path.is_file() {
        return Err(format!(
            "expected asset file {} is missing (was the npm install complete?)",
            path.display()
        ));
    }
    let path = fs::canonicalize(&path).map_err(|e| io_error("resolve", &path, &e))?;
    if let Some(previous) = files.insert(key.clone(), path) {
        return Err(format!(
            "two assets would be served at /static/{key} (one is {})",
            previous.display()
        ));
    }
    Ok(())
}

fn sorted_dir_entries(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| io_error("list", dir, &e))? {
        entries.push(entry.map_err(|e| io_error("list", dir, &e))?.path());
    }
    entries.sort();
    Ok(entries)
}

fn generate(
    files: &BTreeMap<String, PathBuf>,
    bi_version: &str,
    htmx_version: &str,
) -> Result<String, String> {
    let mut out = String::new();
    let mut total: u64 = 0;
    let mut table = String::new();
    for (key, path) in files {
        let bytes = fs::read(path).map_err(|e| io_error("read", path, &e))?;
        total += bytes.len() as u64;
        let path_str = path
            .to_str()
            .ok_or_else(|| format!("non UTF-8 path {}", path.display()))?;
        let etag = format!("\"{:016x}\"", fnv1a64(&bytes));
        // `{:?}` on str yields a valid Rust string literal.
        let _ = writeln!(
            table,
            "    ({key:?}, Asset {{ bytes: include_bytes!({path_str:?}), content_type: {:?}, etag: {etag:?} }}),",
            content_type(key)
        );
    }
    let _ = writeln!(out, "// @generated by crates/web/build.rs. Do not edit.");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "/// Version of the embedded `bootstrap-italia` npm package."
    );
    let _ = writeln!(
        out,
        "pub const BOOTSTRAP_ITALIA_VERSION: &str = {bi_version:?};"
    );
    let _ = writeln!(out, "/// Version of the embedded `htmx.org` npm package.");
    let _ = writeln!(out, "pub const HTMX_VERSION: &str = {htmx_version:?};");
    let _ = writeln!(out, "/// Total size in bytes of all embedded assets.");
    let _ = writeln!(out, "pub const TOTAL_BYTES: u64 = {total};");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "/// Every embedded file, keyed by its path under `/static/`, sorted by path."
    );
    let _ = writeln!(out, "static FILES: &[(&str, Asset)] = &[");
    out.push_str(&table);
    let _ = writeln!(out, "];");
    Ok(out)
}

fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("ttf") => "font/ttf",
        Some("otf") => "font/otf",
        Some("txt") => "text/plain; charset=utf-8",
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("pdf") => "application/pdf",
        Some("xml") => "application/xml",
        None if path.ends_with("LICENSE") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// FNV-1a, 64 bit.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The version of `node_modules/NAME` recorded in a lockfileVersion 2/3 `package-lock.json`.
fn locked_version(lock: &str, name: &str) -> Result<String, String> {
    let key = format!("\"node_modules/{name}\"");
    let not_found = || format!("package-lock.json has no entry for {name}");
    let start = lock.find(&key).ok_or_else(not_found)?;
    let rest = &lock[start + key.len()..];
    let marker = "\"version\":";
    let at = rest.find(marker).ok_or_else(not_found)?;
    let rest = rest[at + marker.len()..].trim_start();
    let rest = rest.strip_prefix('"').ok_or_else(not_found)?;
    let end = rest.find('"').ok_or_else(not_found)?;
    Ok(rest[..end].to_owned())
}

fn write_if_changed(path: &Path, contents: &[u8]) -> Result<(), String> {
    if fs::read(path).is_ok_and(|existing| existing == contents) {
        return Ok(());
    }
    fs::write(path, contents).map_err(|e| io_error("write", path, &e))
}

fn read_to_string(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| io_error("read", path, &e))
}

fn env_var(name: &str) -> Result<String, String> {
    env::var(name).map_err(|e| format!("environment variable {name}: {e}"))
}

fn io_error(action: &str, path: &Path, e: &std::io::Error) -> String {
    format!("could not {action} {}: {e}", path.display())
}

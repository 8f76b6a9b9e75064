//! The optional TOML configuration file (`--config FILE` / `SHOAL_CONFIG`):
//! one table per command (`[dev]`, `[frontend]`, `[coordinator]`,
//! `[ctl.status]`, `[store.inspect]`), its keys named exactly like the
//! command's long flags (kebab-case: `lease-ms`, `cache-mb`).
//!
//! Precedence: command line > `SHOAL_*` environment variable > file >
//! built-in default. The arguments are parsed twice: a first, forgiving
//! pass finds the file and which settings the command line or the
//! environment already gave (`ArgMatches::value_source`); every other
//! setting the file names is appended to the command line as `--key=value`
//! and the second pass is the real one, so a value from the file goes
//! through the same parsers and checks (`requires`, value enums, port
//! ranges) as a flag. A key that names no flag of its command is an error
//! naming the key and the file, so a typo never silently runs defaults.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{ArgMatches, Command, CommandFactory, FromArgMatches};

/// The id of the global `--config` argument.
const CONFIG_ARG: &str = "config";

/// Parses `std::env::args_os()` with the configuration file applied,
/// exiting (with clap's message and status) on `--help` or an error.
pub fn parse<P: CommandFactory + FromArgMatches>() -> P {
    try_parse_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
}

/// Parses `argv` (program name first) with the configuration file applied.
pub fn try_parse_from<P, I, T>(argv: I) -> Result<P, clap::Error>
where
    P: CommandFactory + FromArgMatches,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    let mut cmd = P::command();
    // Forgiving: a required flag may be missing here because the file has
    // it. `--help` and `--version` still stop here (they are not errors
    // that clap ignores).
    let first = cmd
        .clone()
        .ignore_errors(true)
        .try_get_matches_from(&argv)?;
    let Some(path) = config_path(&first) else {
        return parse_matches(cmd, argv);
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        cmd.error(
            ErrorKind::Io,
            format!("read config file {}: {e}", path.display()),
        )
    })?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        cmd.error(
            ErrorKind::InvalidValue,
            format!("config file {}: {}", path.display(), e.to_string().trim()),
        )
    })?;
    check_table(&cmd, &table, &[], &path).map_err(|(kind, msg)| cmd.error(kind, msg))?;
    let from_file = file_args(&cmd, &first, &table, &path)
        .map_err(|msg| cmd.error(ErrorKind::InvalidValue, msg))?;
    argv.extend(from_file.iter().map(|a| OsString::from(&a.flag)));
    parse_matches(cmd.clone(), argv).map_err(|e| blame_file(&mut cmd, e, &from_file, &path))
}

fn parse_matches<P: FromArgMatches>(cmd: Command, argv: Vec<OsString>) -> Result<P, clap::Error> {
    let mut cmd = cmd;
    let matches = cmd.try_get_matches_from_mut(argv)?;
    P::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))
}

/// `--config`, from the innermost command that saw it (it is global).
fn config_path(matches: &ArgMatches) -> Option<PathBuf> {
    let mut found = None;
    let mut m = Some(matches);
    while let Some(level) = m {
        if let Ok(Some(p)) = level.try_get_one::<PathBuf>(CONFIG_ARG) {
            found = Some(p.clone());
        }
        m = level.subcommand().map(|(_, sub)| sub);
    }
    found
}

/// The settings of a command that a file may give: its long flags, less
/// the ones clap adds (`--help`, `--version`) and `--config` itself.
fn settings(cmd: &Command) -> impl Iterator<Item = (&str, &clap::Arg)> {
    cmd.get_arguments().filter_map(|a| {
        let long = a.get_long()?;
        let id = a.get_id().as_str();
        (id != CONFIG_ARG && id != "help" && id != "version").then_some((long, a))
    })
}

fn section_name(section: &[&str]) -> String {
    if section.is_empty() {
        "the top level".to_string()
    } else {
        format!("[{}]", section.join("."))
    }
}

/// Checks every key of the file, not only the running command's table, so
/// that a typo in `[frontend]` shows up even when starting a coordinator
/// from the same file.
fn check_table(
    cmd: &Command,
    table: &toml::Table,
    section: &[&str],
    path: &Path,
) -> Result<(), (ErrorKind, String)> {
    for (key, value) in table {
        if let Some(sub) = cmd.find_subcommand(key) {
            let toml::Value::Table(inner) = value else {
                return Err((
                    ErrorKind::InvalidValue,
                    format!(
                        "config file {}: `{key}` in {} must be a table ([{}])",
                        path.display(),
                        section_name(section),
                        [section, &[key.as_str()]].concat().join(".")
                    ),
                ));
            };
            let mut nested = section.to_vec();
            nested.push(key);
            check_table(sub, inner, &nested, path)?;
        } else if let Some((long, arg)) = settings(cmd).find(|(long, _)| *long == key) {
            to_flag(arg, long, value).map_err(|why| {
                let at = section_name(section);
                let msg = format!("config file {}: `{key}` in {at} {why}", path.display());
                (ErrorKind::InvalidValue, msg)
            })?;
        } else {
            let hint = match settings(cmd).find(|(long, _)| *long == key.replace('_', "-")) {
                Some((long, _)) => format!(" (keys are spelled like the flags: `{long}`)"),
                None if section.is_empty() => {
                    let names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
                    format!(
                        " (the file has one table per command: {})",
                        names.join(", ")
                    )
                }
                None => format!(" (see `shoal {} --help`)", section.join(" ")),
            };
            return Err((
                ErrorKind::UnknownArgument,
                format!(
                    "config file {}: unknown key `{key}` in {}{hint}",
                    path.display(),
                    section_name(section)
                ),
            ));
        }
    }
    Ok(())
}

/// One setting taken from the file: the key and the flag it became.
struct FileArg {
    section: String,
    key: String,
    flag: String,
}

/// The file's settings for the command being run that neither the command
/// line nor the environment gave, as `--key=value` flags.
fn file_args(
    root: &Command,
    first: &ArgMatches,
    table: &toml::Table,
    path: &Path,
) -> Result<Vec<FileArg>, String> {
    // Walk down to the innermost command being run, and its table. Only
    // the innermost command's settings are appended to the command line
    // (none of shoal's parent commands has settings of its own).
    let (mut cmd, mut matches, mut table) = (root, first, Some(table));
    let mut section = Vec::new();
    while let Some((name, sub)) = matches.subcommand() {
        let Some(next) = cmd.find_subcommand(name) else {
            break;
        };
        section.push(name);
        table = table.and_then(|t| t.get(name)).and_then(|v| v.as_table());
        cmd = next;
        matches = sub;
    }
    let Some(table) = table else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (long, arg) in settings(cmd) {
        let Some(value) = table.get(long) else {
            continue;
        };
        let id = arg.get_id().as_str();
        let given = matches!(
            matches.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        );
        if given {
            continue;
        }
        let Some(flag) = to_flag(arg, long, value).map_err(|why| {
            format!(
                "config file {}: `{long}` in {} {why}",
                path.display(),
                section_name(&section)
            )
        })?
        else {
            continue;
        };
        out.push(FileArg {
            section: section_name(&section),
            key: long.to_string(),
            flag,
        });
    }
    Ok(out)
}

/// A file value as a command-line flag (`None`: `false` for a flag, which
/// is its default), or what is wrong with its type.
fn to_flag(
    arg: &clap::Arg,
    long: &str,
    value: &toml::Value,
) -> Result<Option<String>, &'static str> {
    if arg.get_action().takes_values() {
        let text = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => return Err("must be a string, a number or a boolean"),
        };
        Ok(Some(format!("--{long}={text}")))
    } else {
        match value {
            toml::Value::Boolean(true) => Ok(Some(format!("--{long}"))),
            toml::Value::Boolean(false) => Ok(None),
            _ => Err("must be true or false"),
        }
    }
}

/// A bad value that came from the file: say so, and where, instead of
/// pointing at a flag the user never typed.
fn blame_file(
    root: &mut Command,
    e: clap::Error,
    from_file: &[FileArg],
    path: &Path,
) -> clap::Error {
    if !matches!(
        e.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return e;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return e;
    };
    let flag = arg.split([' ', '=']).next().unwrap_or_default();
    let Some(culprit) = from_file.iter().find(|a| flag == format!("--{}", a.key)) else {
        return e;
    };
    let rendered = e.render().to_string();
    let why = rendered.lines().next().unwrap_or_default();
    let why = why.strip_prefix("error: ").unwrap_or(why);
    root.error(
        e.kind(),
        format!(
            "config file {}: `{}` in {}: {why}",
            path.display(),
            culprit.key,
            culprit.section
        ),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::{Cli, Command as Cmd};

    /// Every parse reads `SHOAL_*` variables, and some tests set them.
    static ENV: Mutex<()> = Mutex::new(());

    fn lock() -> std::sync::MutexGuard<'static, ()> {
        ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Writes `toml` to a file and parses `args` with `--config FILE` added.
    fn parse_with(args: &[&str], toml: &str) -> (Result<Cli, clap::Error>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("shoal.toml");
        std::fs::write(&file, toml).expect("write config");
        let mut argv: Vec<OsString> = vec!["shoal".into()];
        argv.extend(args.iter().map(OsString::from));
        argv.push("--config".into());
        argv.push(file.into_os_string());
        (try_parse_from::<Cli, _, _>(argv), dir)
    }

    fn dev_lease(cli: Cli) -> u64 {
        match cli.command {
            Cmd::Dev { lease_ms, .. } => lease_ms,
            _ => panic!("not dev"),
        }
    }

    #[test]
    fn flag_beats_env_beats_file_beats_default() {
        let _env = lock();
        std::env::remove_var("SHOAL_LEASE_MS");
        let file = "[dev]\nlease-ms = 3000\n";
        let (cli, _d) = parse_with(&["dev"], "");
        assert_eq!(dev_lease(cli.expect("parse")), 2000, "default");
        let (cli, _d) = parse_with(&["dev"], file);
        assert_eq!(dev_lease(cli.expect("parse")), 3000, "file over default");
        std::env::set_var("SHOAL_LEASE_MS", "4000");
        let (cli, _d) = parse_with(&["dev"], file);
        let env = cli.map(dev_lease);
        let (cli, _d) = parse_with(&["dev", "--lease-ms", "5000"], file);
        let flag = cli.map(dev_lease);
        std::env::remove_var("SHOAL_LEASE_MS");
        assert_eq!(env.expect("parse"), 4000, "env over file");
        assert_eq!(flag.expect("parse"), 5000, "flag over env");
    }

    #[test]
    fn file_supplies_required_flattened_and_flag_settings() {
        let _env = lock();
        let (cli, _d) = parse_with(
            &["frontend", "--id", "7"],
            r#"
            [frontend]
            store = "memory://"
            listen = "127.0.0.1:6000"
            cache-mb = 64
            cache-dir = "/var/cache/shoal"
            cache-size = "512MiB"
            auth = "scram-sha-256"
            max-connections = 10
            id = 99
            "#,
        );
        match cli.expect("parse").command {
            Cmd::Frontend {
                store,
                listen,
                cache_mb,
                disk_cache,
                id,
                access,
                ..
            } => {
                assert_eq!(store, "memory://");
                assert_eq!(listen, "127.0.0.1:6000");
                assert_eq!(cache_mb, 64);
                let disk = disk_cache.options(None).expect("cache-dir is set");
                assert_eq!(disk.dir, std::path::Path::new("/var/cache/shoal"));
                assert_eq!(disk.capacity_bytes, 512 << 20);
                assert_eq!(id, Some(7), "the command line wins");
                assert!(matches!(access.auth, Some(crate::AuthArg::ScramSha256)));
                assert_eq!(access.max_connections, 10);
            }
            _ => panic!("not frontend"),
        }
        let (cli, _d) = parse_with(
            &["coordinator"],
            "[coordinator]\nstore = \"memory://\"\nspare = true\nwatch = \"127.0.0.1:5440\"\n",
        );
        match cli.expect("parse").command {
            Cmd::Coordinator { spare, watch, .. } => {
                assert!(spare);
                assert_eq!(watch.as_deref(), Some("127.0.0.1:5440"));
            }
            _ => panic!("not coordinator"),
        }
        // A flag from the file is checked like one on the command line.
        let (cli, _d) = parse_with(
            &["coordinator"],
            "[coordinator]\nstore = \"memory://\"\nspare = true\n",
        );
        let e = cli.err().expect("spare needs watch");
        assert_eq!(e.kind(), ErrorKind::MissingRequiredArgument, "{e}");
        // Sizes are checked too, and an integer is a number of bytes.
        let (cli, _d) = parse_with(&["dev"], "[dev]\ncache-size = \"lots\"\n");
        let e = cli.err().expect("not a size");
        assert!(e.to_string().contains("not a size"), "{e}");
        let (cli, _d) = parse_with(&["dev"], "[dev]\ncache-dir = \"c\"\ncache-size = 4096\n");
        match cli.expect("parse").command {
            Cmd::Dev { disk_cache, .. } => {
                let disk = disk_cache
                    .options(Some("frontend-1"))
                    .expect("cache-dir is set");
                assert_eq!(disk.dir, std::path::Path::new("c/frontend-1"));
                assert_eq!(disk.capacity_bytes, 4096);
            }
            _ => panic!("not dev"),
        }
        // Without the file, a required setting is still required.
        let (cli, _d) = parse_with(&["frontend"], "[coordinator]\nstore = \"memory://\"\n");
        let e = cli.err().expect("store is required");
        assert_eq!(e.kind(), ErrorKind::MissingRequiredArgument, "{e}");
    }

    #[test]
    fn nested_commands_and_the_config_env_var() {
        let _env = lock();
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[ctl.status]\ncoordinator = \"10.0.0.1:5440\"\n").expect("write");
        std::env::set_var("SHOAL_CONFIG", &file);
        let cli = try_parse_from::<Cli, _, _>(["shoal", "ctl", "status"]);
        std::env::remove_var("SHOAL_CONFIG");
        match cli.expect("parse").command {
            Cmd::Ctl {
                command: crate::CtlCommand::Status { coordinator },
            } => assert_eq!(coordinator, "10.0.0.1:5440"),
            _ => panic!("not ctl status"),
        }
    }

    #[test]
    fn unknown_keys_name_the_key_and_the_file() {
        let _env = lock();
        for (toml, key, hint) in [
            ("[frontend]\nsotre = \"x\"\n", "`sotre` in [frontend]", ""),
            ("[dev]\nlease_ms = 1\n", "`lease_ms` in [dev]", "`lease-ms`"),
            (
                "[frontends]\nstore = \"x\"\n",
                "`frontends` in the top level",
                "dev, frontend",
            ),
            ("port = 1\n", "`port` in the top level", ""),
            (
                "[ctl.status]\nstore = \"x\"\n",
                "`store` in [ctl.status]",
                "",
            ),
            // Checked even when another command runs.
            (
                "[coordinator]\nlisten = \"x\"\n[dev]\nbogus = 1\n",
                "`bogus` in [dev]",
                "",
            ),
        ] {
            let (cli, dir) = parse_with(&["coordinator", "--store", "memory://"], toml);
            let e = cli.err().expect("unknown key");
            let msg = e.to_string();
            assert_eq!(e.kind(), ErrorKind::UnknownArgument, "{msg}");
            assert!(msg.contains(&format!("unknown key {key}")), "{msg}");
            assert!(msg.contains(hint), "{msg}");
            assert!(
                msg.contains(&dir.path().join("shoal.toml").display().to_string()),
                "{msg}"
            );
        }
    }

    #[test]
    fn bad_values_and_files_are_errors_naming_the_file() {
        let _env = lock();
        for (toml, want) in [
            (
                "[dev]\nport = \"abc\"\n",
                "`port` in [dev]: invalid value 'abc'",
            ),
            (
                "[dev]\nport = 70000\n",
                "`port` in [dev]: invalid value '70000'",
            ),
            (
                "[dev]\nauth = \"md5\"\n",
                "`auth` in [dev]: invalid value 'md5'",
            ),
            (
                "[dev]\nport = [1, 2]\n",
                "`port` in [dev] must be a string, a number",
            ),
            (
                "[coordinator]\nspare = \"yes\"\n",
                "`spare` in [coordinator] must be true or false",
            ),
            (
                "dev = 3\n",
                "`dev` in the top level must be a table ([dev])",
            ),
            ("[dev\n", "config file"),
        ] {
            let (cli, dir) = parse_with(&["dev"], toml);
            let msg = cli.err().expect("bad value").to_string();
            assert!(msg.contains(want), "{toml:?}: {msg}");
            assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
        }
        let e =
            try_parse_from::<Cli, _, _>(["shoal", "dev", "--config", "/nonexistent/shoal.toml"])
                .err()
                .expect("missing file");
        assert!(
            e.to_string()
                .contains("read config file /nonexistent/shoal.toml"),
            "{e}"
        );
    }

    /// `shoal <command> --help` documents every setting and its variable.
    #[test]
    fn every_setting_has_help_and_an_environment_variable() {
        fn walk(cmd: &Command, path: &str) {
            for (long, arg) in settings(cmd) {
                assert!(arg.get_help().is_some(), "{path} --{long} has no help");
                assert!(
                    arg.get_env().is_some(),
                    "{path} --{long} has no SHOAL_* variable"
                );
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        let cmd = Cli::command();
        walk(&cmd, "shoal");
        let config = cmd
            .get_arguments()
            .find(|a| a.get_id() == CONFIG_ARG)
            .expect("--config");
        assert!(config.is_global_set());
    }
}

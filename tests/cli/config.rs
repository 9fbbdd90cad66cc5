//! The config file (SPEC §18, issue 27, 2): the default user, the
//! database, aliases, checks of keys and of passwords.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};

use crate::support::Outcome;
use crate::support::{expect_code, todo_cmd, TempDir, TestDb};

fn with_config(db: &TestDb, file: &std::path::Path) -> crate::support::Run {
    db.cmd().env("TODO_CONFIG", file)
}

#[test]
fn the_config_sets_the_user_and_aliases() {
    let db = TestDb::migrated();
    db.add_user("cfg@example.com");
    db.add_task("cfg@example.com", "from the config");
    let dir = TempDir::new("config");
    let file = dir.join("todo/config.toml");
    let set = |args: &[&str]| {
        let out = with_config(&db, &file)
            .args(["config", "set"])
            .args(args)
            .output();
        expect_code(&out, 0);
    };
    set(&["user", "cfg@example.com"]);
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let out = with_config(&db, &file)
        .args(["config", "get", "user"])
        .output();
    assert_eq!(out.stdout().trim(), "cfg@example.com");
    // No --user, no $TODO_USER: the config's user.
    let out = with_config(&db, &file)
        .args(["task", "stats", "--json"])
        .output();
    expect_code(&out, 0);
    assert_eq!(out.value()["total"], 1);
    // $TODO_USER wins over the config.
    let out = with_config(&db, &file)
        .env("TODO_USER", "nobody@example.com")
        .args(["task", "stats"])
        .output();
    expect_code(&out, 3);

    // Aliases expand as git's do, and never shadow a command.
    set(&["alias.mine", "task list --pending --json"]);
    let out = with_config(&db, &file).args(["mine"]).output();
    expect_code(&out, 0);
    assert_eq!(out.value()[0]["title"], "from the config");
    let out = with_config(&db, &file)
        .args(["config", "set", "alias.task", "user list"])
        .output();
    expect_code(&out, 2);
    assert!(out.stderr().contains("cannot shadow"), "{}", out.stderr());
    // Nor clap's `help`, nor an option: `help` and `-v` keep their meaning
    // even when the file (written by hand) says otherwise.
    for name in ["help", "-v", "--json", "a b"] {
        let out = with_config(&db, &file)
            .args(["config", "set", &format!("alias.{name}"), "user list"])
            .output();
        expect_code(&out, 2);
    }
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        format!("{text}help = \"user list\"\n\"-V\" = \"user list\"\n"),
    )
    .unwrap();
    let out = with_config(&db, &file).args(["help"]).expect(0);
    assert!(out.stdout().contains("Usage: todo"), "{}", out.stdout());
    let out = with_config(&db, &file).args(["-V"]).expect(0);
    assert!(out.stdout().starts_with("todo "), "{}", out.stdout());
    std::fs::write(&file, text).unwrap();

    // A comment written by hand survives set and unset.
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("# mine, keep\n{text}")).unwrap();
    set(&["color", "never"]);
    let out = with_config(&db, &file)
        .args(["config", "unset", "color"])
        .output();
    expect_code(&out, 0);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("# mine, keep\n"), "{text}");
    assert!(!text.contains("color"), "{text}");
    let out = with_config(&db, &file)
        .args(["config", "list", "--json"])
        .output();
    assert_eq!(
        out.value(),
        serde_json::json!({"user": "cfg@example.com", "alias.mine": "task list --pending --json"})
    );
}

#[test]
fn an_alias_of_an_alias_expands_and_a_loop_is_refused() {
    let db = TestDb::migrated();
    db.add_user("chain@example.com");
    db.add_task("chain@example.com", "first");
    db.add_task("chain@example.com", "second");
    let dir = TempDir::new("config-chain");
    let file = dir.join("config.toml");
    std::fs::write(
        &file,
        "user = \"chain@example.com\"\n[alias]\n\
         mine = \"task list --json\"\n\
         one = \"mine --limit 1\"\n\
         ping = \"pong -q\"\n\
         pong = \"ping\"\n",
    )
    .unwrap();
    // `one` → `mine --limit 1` → `task list --json --limit 1`, then the
    // arguments given.
    let out = with_config(&db, &file).args(["one", "--pending"]).expect(0);
    assert_eq!(
        out.value().as_array().map(Vec::len),
        Some(1),
        "{}",
        out.stdout()
    );
    // git's "alias loop detected": exit 2 naming the chain, nothing run.
    let out = with_config(&db, &file).args(["ping"]).expect(2);
    assert!(
        out.stderr()
            .contains("error: alias loop: ping → pong → ping"),
        "{}",
        out.stderr()
    );
}

#[test]
fn the_config_database_and_its_checks() {
    let db = TestDb::migrated();
    db.add_user("where@example.com");
    let dir = TempDir::new("config-db");
    let file = dir.join("config.toml");
    // The database from the config alone (no URL in the environment).
    std::fs::write(&file, format!("database = \"{}\"\n", db.url())).unwrap();
    let out = todo_cmd(&dir)
        .env("TODO_CONFIG", &file)
        .args(["user", "list", "-q"])
        .expect(0);
    assert_eq!(out.stdout().lines().count(), 1);

    // A password in a file others may read is refused.
    std::fs::write(
        &file,
        "database = \"postgresql://app:Secr3tPW@db.example.com/app\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = todo_cmd(&dir)
        .env("TODO_CONFIG", &file)
        .args(["user", "list"])
        .expect(2);
    assert!(out.stderr().contains("chmod 600"), "{}", out.stderr());
    assert!(!out.stderr().contains("Secr3tPW"));
    // `config set` writes no password into such a file (the file stays as
    // it was), and `config unset` takes one out of it.
    let set = |args: &[&str]| {
        todo_cmd(&dir)
            .env("TODO_CONFIG", &file)
            .args(["config"])
            .args(args)
            .output()
    };
    std::fs::write(&file, "user = \"a@example.com\"\n").unwrap();
    let out = set(&["set", "read_url", "postgresql://app:Secr3tPW@replica/app"]);
    expect_code(&out, 2);
    assert!(
        out.stderr().contains("a password is not written into")
            && out.stderr().contains("chmod 600"),
        "{}",
        out.stderr()
    );
    assert!(!out.stderr().contains("Secr3tPW"));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "user = \"a@example.com\"\n"
    );
    std::fs::write(
        &file,
        "database = \"postgresql://app:Secr3tPW@db.example.com/app\"\n",
    )
    .unwrap();
    // Setting another key of such a file says what is wrong with the file,
    // not that a password would be written (issue 43).
    let out = set(&["set", "pager", "less"]);
    expect_code(&out, 2);
    assert_eq!(
        out.stderr(),
        format!(
            "error: a password is not kept in {0}: others may read it (mode 644)\n\
             hint: chmod 600 {0} (as libpq asks of ~/.pgpass), or keep the password in ~/.pgpass\n",
            file.display()
        )
    );
    expect_code(&set(&["unset", "database"]), 0);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "\n");
    std::fs::write(
        &file,
        "database = \"postgresql://app:Secr3tPW@db.example.com/app\"\n",
    )
    .unwrap();

    // In a private file it is kept; a listing masks it (URL and keyword
    // form), `config get` gives it as stored.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = |args: &[&str]| {
        todo_cmd(&dir)
            .env("TODO_CONFIG", &file)
            .args(["config"])
            .args(args)
            .expect(0)
    };
    let _ = config(&[
        "set",
        "read_url",
        "host=replica password='Secr3tPW' dbname=app",
    ]);
    let out = config(&["list"]);
    assert_eq!(
        out.stdout(),
        "database\tpostgresql://app:****@db.example.com/app\n\
         read_url\thost=replica password='****' dbname=app\n"
    );
    let out = config(&["list", "--json"]);
    assert_eq!(
        out.value()["database"],
        "postgresql://app:****@db.example.com/app"
    );
    assert!(!out.stdout().contains("Secr3tPW"), "{}", out.stdout());
    let out = config(&["get", "database"]);
    assert_eq!(
        out.stdout().trim(),
        "postgresql://app:Secr3tPW@db.example.com/app"
    );

    // An unknown key: its name and line, never a value; `todo config`
    // still works to mend it.
    std::fs::write(
        &file,
        "user = \"a@example.com\"\ndatabse = \"postgresql://u:Secr3tPW@h/db\"\n",
    )
    .unwrap();
    let out = todo_cmd(&dir)
        .env("TODO_CONFIG", &file)
        .args(["user", "list"])
        .expect(2);
    let err = out.stderr();
    assert!(err.contains("line 2") && err.contains("'databse'"), "{err}");
    assert!(!err.contains("Secr3tPW"), "{err}");
    assert!(
        err.contains("hint: remove it with: todo config unset databse"),
        "{err}"
    );
    let out = todo_cmd(&dir)
        .env("TODO_CONFIG", &file)
        .args(["config", "path"])
        .expect(0);
    assert_eq!(out.stdout().trim(), file.display().to_string());
    // The hint's command removes the misspelt key and keeps the rest; a key
    // neither known nor in the file is still refused.
    todo_cmd(&dir)
        .env("TODO_CONFIG", &file)
        .args(["config", "unset", "databse"])
        .expect(0);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "user = \"a@example.com\"\n"
    );
    let out = todo_cmd(&dir)
        .env("TODO_CONFIG", &file)
        .args(["config", "unset", "databse"])
        .expect(2);
    assert!(
        out.stderr().contains("unknown setting 'databse'"),
        "{}",
        out.stderr()
    );
    let out = todo_cmd(&dir)
        .env("TODO_CONFIG", &file)
        .args(["config", "get", "user"])
        .expect(0);
    assert_eq!(out.stdout().trim(), "a@example.com");
}

/// A config path that is a symlink (a dotfiles repository's file) is
/// edited where it points: the link stays a link, the file it names
/// changes (also when it does not exist yet).
/// A relative XDG_CONFIG_HOME is ignored, as the XDG base directory spec
/// says: the file is then found under $HOME.
#[test]
fn a_relative_xdg_config_home_is_ignored() {
    let dir = TempDir::new("config-xdg");
    let path = |xdg: &str| {
        todo_cmd(&dir)
            .env_remove("TODO_CONFIG")
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", xdg)
            .args(["config", "path"])
            .expect(0)
            .stdout()
            .trim()
            .to_string()
    };
    let home = dir.join(".config/todo/config.toml");
    assert_eq!(path("relative/dir"), home.display().to_string());
    let absolute = dir.join("xdg");
    assert_eq!(
        path(absolute.to_str().unwrap()),
        absolute.join("todo/config.toml").display().to_string()
    );
}

#[test]
fn config_set_edits_through_a_symlink() {
    let dir = TempDir::new("config-link");
    std::fs::create_dir(dir.join("dotfiles")).unwrap();
    let target = dir.join("dotfiles/todo.toml");
    std::fs::write(&target, "user = \"a@example.com\"\n").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
    let link = dir.join("config.toml");
    std::os::unix::fs::symlink("dotfiles/todo.toml", &link).unwrap();
    let config = |file: &std::path::Path, args: &[&str]| {
        todo_cmd(&dir)
            .env("TODO_CONFIG", file)
            .args(["config"])
            .args(args)
            .expect(0)
    };
    config(&link, &["set", "color", "never"]);
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "user = \"a@example.com\"\ncolor = \"never\"\n"
    );
    let out = config(&link, &["get", "color"]);
    assert_eq!(out.stdout(), "never\n");
    config(&link, &["unset", "user"]);
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "color = \"never\"\n"
    );
    // A link to a file not made yet: the file is created where it points.
    let dangling = dir.join("new.toml");
    std::os::unix::fs::symlink("dotfiles/new.toml", &dangling).unwrap();
    config(&dangling, &["set", "user", "b@example.com"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("dotfiles/new.toml")).unwrap(),
        "user = \"b@example.com\"\n"
    );
    assert!(std::fs::symlink_metadata(&dangling)
        .unwrap()
        .file_type()
        .is_symlink());
}

/// Ten `config set` at once each keep their key: the file is locked
/// (`FILE.lock`, as git's config) and read again under the lock (issue 43).
#[test]
fn concurrent_config_sets_keep_every_key() {
    let dir = TempDir::new("config-race");
    let file = dir.join("config.toml");
    let children: Vec<_> = (0..10)
        .map(|i| {
            crate::support::todo_process(&dir)
                .env("TODO_CONFIG", &file)
                .args([
                    "config",
                    "set",
                    &format!("alias.a{i}"),
                    &format!("task list --limit {i}"),
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = std::fs::read_to_string(&file).unwrap();
    for i in 0..10 {
        assert!(
            text.contains(&format!("a{i} = \"task list --limit {i}\"")),
            "a{i} is missing:\n{text}"
        );
    }
    assert!(!dir.join("config.toml.lock").exists());
    // A lock left behind (a killed todo config) is named, not broken.
    std::fs::write(dir.join("config.toml.lock"), "").unwrap();
    let out = todo_cmd(&dir)
        .env("TODO_CONFIG", &file)
        .args(["config", "set", "color", "never"])
        .timeout(std::time::Duration::from_secs(60))
        .expect(2);
    assert_eq!(
        out.stderr(),
        format!(
            "error: cannot write {0}: {0}.lock exists (another todo config is running, or one \
             was killed)\nhint: if no other todo config is running, remove {0}.lock\n",
            file.display()
        )
    );
}

/// `$TODO_CONFIG` naming something other than a regular file (a FIFO here;
/// `/dev/null` as root was replaced by a regular file) is read, never
/// written over (issue 43).
#[test]
fn config_set_refuses_a_config_that_is_not_a_regular_file() {
    let dir = TempDir::new("config-fifo");
    let fifo = dir.join("config.toml");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    // Whoever reads the FIFO gets an empty config once.
    let writer = fifo.clone();
    std::thread::spawn(move || drop(std::fs::OpenOptions::new().write(true).open(writer)));
    let out = todo_cmd(&dir)
        .env("TODO_CONFIG", &fifo)
        .args(["config", "set", "color", "never"])
        .timeout(std::time::Duration::from_secs(30))
        .expect(2);
    assert_eq!(
        out.stderr(),
        format!(
            "error: cannot write {}: it is not a regular file\n\
             hint: point TODO_CONFIG at a file (the config is TOML text)\n",
            fifo.display()
        )
    );
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
}

/// Aliases written by hand that never expand (a built-in's name, a name no
/// alias can have) are listed with a note on stderr saying so; one that
/// cannot be split into words is refused with its line (issue 43).
#[test]
fn aliases_that_never_expand_are_noted_and_broken_ones_refused() {
    let dir = TempDir::new("config-aliases");
    let file = dir.join("config.toml");
    std::fs::write(
        &file,
        "[alias]\ntask = \"user list\"\n\"-v\" = \"task list\"\nok = \"task list\"\n",
    )
    .unwrap();
    let out = todo_cmd(&dir)
        .env("TODO_CONFIG", &file)
        .args(["config", "list"])
        .expect(0);
    assert_eq!(
        out.stderr(),
        "note: alias.-v is ignored: it is not a name an alias can have (letters, digits, - and _)\n\
         note: alias.task is ignored: a built-in command of that name comes first\n"
    );
    assert!(
        out.stdout().contains("alias.ok\ttask list"),
        "{}",
        out.stdout()
    );
    let out = todo_cmd(&dir)
        .env("TODO_CONFIG", &file)
        .args(["config", "set", "alias.bad", "task list 'unclosed"])
        .expect(2);
    assert_eq!(
        out.stderr(),
        "error: alias bad cannot be split into words: a quote is not closed\n\
         hint: quote as in a shell: todo config set alias.NAME \"task add 'two words'\"\n"
    );
    // Written by hand, the file is refused naming the line.
    std::fs::write(
        &file,
        "[alias]\nok = \"task list\"\nbad = \"task list 'x\"\n",
    )
    .unwrap();
    let out = todo_cmd(&dir)
        .env("TODO_CONFIG", &file)
        .args(["task", "list"])
        .expect(2);
    assert_eq!(
        out.stderr(),
        format!(
            "error: {}, line 3: alias bad cannot be split into words: a quote is not closed\n",
            file.display()
        )
    );
}

/// A config file others may change is refused, as ssh refuses its own
/// (issue 43): its aliases and database choose what todo runs and where.
/// `todo config` still works, to mend it.
#[test]
fn a_config_file_others_may_change_is_refused() {
    let dir = TempDir::new("config-perm");
    let file = dir.join("config.toml");
    std::fs::write(&file, "[alias]\nls = \"task list\"\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = todo_cmd(&dir)
        .env("TODO_CONFIG", &file)
        .args(["ls"])
        .expect(2);
    assert_eq!(
        out.stderr(),
        format!(
            "error: bad owner or permissions on {0}: others may change it (mode 666)\n\
             hint: chmod go-w {0} (and chown it to yourself), or point TODO_CONFIG elsewhere\n",
            file.display()
        )
    );
    todo_cmd(&dir)
        .env("TODO_CONFIG", &file)
        .args(["config", "path"])
        .expect(0);
    // Another user's file (not root's).
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::chown(&file, Some(4242), None).expect("chown (the tests run as root)");
    let out = todo_cmd(&dir)
        .env("TODO_CONFIG", &file)
        .args(["ls"])
        .expect(2);
    assert!(
        out.stderr()
            .contains("it belongs to another user (uid 4242)"),
        "{}",
        out.stderr()
    );
    // /dev/null (a device, mode 666) reads as an empty config.
    todo_cmd(&dir)
        .env("TODO_CONFIG", "/dev/null")
        .args(["completions", "bash"])
        .expect(0);
}

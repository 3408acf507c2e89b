//! Live configuration: `enable`, `disable` and `config` reach a running process within
//! seconds, without a restart; `NAME stats` and `zlc stats` read what it wrote.

use zlc_runtime::store::Store;

use super::*;

/// How many times the process said it applied a changed configuration.
fn changes(p: &Proc) -> usize {
    p.log_text()
        .matches("the listeners' configuration changed")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enable_disable_and_config_reach_a_running_process() {
    let s = setup().await;
    let bin = build_pipeline(&pipeline("deploys"));
    let store_flag = ["--store", s.store_url.as_str()];
    let p = s.run(&bin, &[], &[]);
    s.connected(&p).await;
    let dana = s.zulip.add_user("dana@zulip.example.com", "Dana");
    let oncall = s.zulip.add_user("oncall@example.com", "On Call");
    s.zulip.add_channel("ops");
    s.zulip.add_channel("deploy-log");
    let deploy = |n: u32| {
        s.zulip
            .message()
            .channel("ops")
            .topic("release 5")
            .sender(&dana)
            .content(&format!("deploy #{n}"))
            .send();
    };
    // The answers in #ops, in order (copies in #deploy-log and private answers left out).
    let answers = || -> Vec<String> {
        s.bot_messages()
            .into_iter()
            .filter(|m| m.topic == "release 5" && m.content.starts_with("Deploying"))
            .map(|m| m.content)
            .collect()
    };
    let answered = async |n: usize| {
        wait_until(20, "an answer", || answers().len() >= n).await;
        assert_eq!(answers().len(), n, "{}", p.log_text());
    };

    deploy(1);
    answered(1).await;
    assert!(answers()[0].contains("to production"), "{:?}", answers());

    // A config value set from another process: the next event sees it.
    let (code, out, err) = run_cmd(
        &bin,
        &[
            &["config", "deploy_announcements", "environment", "staging"][..],
            &store_flag,
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{out}{err}");
    let started = Instant::now();
    wait_until(10, "the process to apply the config", || changes(&p) >= 1).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "took {took:?}");
    deploy(2);
    answered(2).await;
    assert!(answers()[1].contains("to staging"), "{:?}", answers());

    // Disabled: a deploy is not answered. A rollback (another listener) after it marks
    // that the deploy was dispatched.
    let (code, out, err) = run_cmd(
        &bin,
        &[&["disable", "deploy_announcements"][..], &store_flag].concat(),
    );
    assert_eq!(code, 0, "{out}{err}");
    wait_until(10, "the process to apply the disable", || changes(&p) >= 2).await;
    deploy(3);
    s.zulip
        .message()
        .channel("ops")
        .topic("oops")
        .sender(&oncall)
        .content("rollback #3")
        .send();
    wait_until(20, "the rollback answer", || {
        s.bot_messages().iter().any(|m| m.content.contains("#3"))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        answers().len(),
        2,
        "disabled, yet answered: {:?}",
        answers()
    );
    assert!(
        p.log_text()
            .contains("listener disabled while running realm=1 listener=\"deploy_announcements\""),
        "{}",
        p.log_text()
    );

    // Enabled again, still with the config value.
    let (code, out, err) = run_cmd(
        &bin,
        &[&["enable", "deploy_announcements"][..], &store_flag].concat(),
    );
    assert_eq!(code, 0, "{out}{err}");
    wait_until(10, "the process to apply the enable", || changes(&p) >= 3).await;
    deploy(4);
    answered(3).await;
    assert!(answers()[2].contains("#4 to staging"), "{:?}", answers());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");

    // The statistics the process wrote, as a table and as JSON.
    let (code, out, err) = run_cmd(&bin, &[&["stats"][..], &store_flag].concat());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("deploy_announcements"), "{out}");
    let (code, out, err) = run_cmd(&bin, &[&["stats", "--json"][..], &store_flag].concat());
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let listener = |name: &str| {
        v["listeners"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {v}"))
    };
    let deploys = listener("deploy_announcements");
    assert_eq!(deploys["matched"], 3, "three deploys while enabled: {v}");
    assert_eq!(deploys["succeeded"], 3, "{v}");
    assert_eq!(deploys["counters"]["deploys"], 3, "{v}");
    assert_eq!(listener("rollbacks")["matched"], 1, "{v}");
    let (code, out, _) = run_cmd(
        &bin,
        &[&["stats", "--since", "1h", "--json"][..], &store_flag].concat(),
    );
    assert_eq!(code, 0);
    let recent: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        recent["listeners"], v["listeners"],
        "all of it is this hour's"
    );
    let (code, _, err) = run_cmd(
        &bin,
        &[&["stats", "--since", "soon"][..], &store_flag].concat(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("soon"), "{err}");

    let store = Store::open(&s.store_url).await.unwrap();
    assert!(store.config_version("deploys").await.unwrap() >= 3);
}

//! `cargo xtask verify`: the e2e baseline's read-only proof against an existing cluster, with the login token, without
//! writing anything. Exit 0 all held, 1 a check failed, 2 could not run (or could not judge a part).

use std::path::PathBuf;
use std::time::Duration;

use headlamp_e2e::verify::{self, HeadlampRoute, Options};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum VerifyFormat {
    #[default]
    Text,
    /// One JSON object on stdout
    Json,
    /// JUnit XML on stdout
    Junit,
}

#[derive(clap::Args)]
pub struct Args {
    /// kubeconfig file [default: $KUBECONFIG, ~/.kube/config, else in-cluster]
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// kubeconfig context [default: its current context]
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
    /// The app's namespace
    #[arg(short = 'n', long, default_value = "headlamp")]
    namespace: String,
    /// The login ServiceAccount's token Secret (type kubernetes.io/service-account-token)
    #[arg(long, value_name = "NAME", default_value = "headlamp-login-token")]
    login_secret: String,
    /// Probe Headlamp's proxy at this URL (public or LAN), e.g. https://headlamp.example.net
    #[arg(long, value_name = "URL", conflicts_with = "service")]
    url: Option<String>,
    /// Probe Headlamp's proxy through a port-forward to its Service, via the API server (no ingress needed)
    #[arg(long)]
    service: bool,
    /// The Service --service forwards to
    #[arg(
        long,
        value_name = "NAME",
        default_value = "headlamp",
        requires = "service"
    )]
    service_name: String,
    /// Output format
    #[arg(long, value_enum, default_value_t = VerifyFormat::Text)]
    format: VerifyFormat,
    /// For the whole run (Go duration: 60s, 2m)
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = crate::go_duration)]
    timeout: Duration,
}

fn cannot_run(format: VerifyFormat, message: &str) -> u8 {
    match format {
        VerifyFormat::Json => println!("{}", verify::cannot_run_json(message)),
        VerifyFormat::Junit => match verify::cannot_run_junit(message) {
            Ok(xml) => println!("{xml}"),
            Err(e) => eprintln!("error: {e}"),
        },
        VerifyFormat::Text => {}
    }
    eprintln!(
        "error: verify could not run: {}",
        headlamp_e2e::report::redact(message)
    );
    2
}

pub async fn run(args: Args) -> u8 {
    let headlamp = match (&args.url, args.service) {
        (Some(url), _) => {
            if let Err(e) = verify::headlamp_route(url) {
                return cannot_run(args.format, &e);
            }
            HeadlampRoute::Url(url.clone())
        }
        (None, true) => HeadlampRoute::Service(args.service_name.clone()),
        (None, false) => HeadlampRoute::NotChecked,
    };
    let opts = Options {
        namespace: args.namespace.clone(),
        login_secret: args.login_secret.clone(),
        headlamp,
        timeout: args.timeout,
    };
    let connected = tokio::time::timeout(
        args.timeout,
        verify::connect(args.kubeconfig.as_deref(), args.context.as_deref()),
    )
    .await;
    let (client, api, context) = match connected {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return cannot_run(args.format, &e.to_string()),
        Err(_) => {
            return cannot_run(
                args.format,
                "loading the kubeconfig did not finish within --timeout (an exec credential plugin waiting?)",
            );
        }
    };
    let v = match verify::run(&client, &api, &context, &opts).await {
        Ok(v) => v,
        Err(e) => return cannot_run(args.format, &e.to_string()),
    };
    match args.format {
        VerifyFormat::Text => print!("{}", v.to_text(crate::use_color())),
        VerifyFormat::Json => println!("{}", v.to_json()),
        VerifyFormat::Junit => match v.to_junit() {
            Ok(xml) => println!("{xml}"),
            Err(e) => return cannot_run(args.format, &e.to_string()),
        },
    }
    v.exit_code()
}

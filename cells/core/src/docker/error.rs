//! [`DockerError`]: everything that can go wrong talking to Docker, each with its fix.

use bollard::errors::Error as BollardError;

use super::TEST_LABEL_ENV;
use super::connect::Host;

/// Everything that can go wrong talking to Docker.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[non_exhaustive]
pub enum DockerError {
    /// No engine answered.
    #[error("cannot reach the Docker engine at {host}")]
    #[diagnostic(
        code(cell::docker::unreachable),
        help(
            "is the Docker daemon running? Start it with `systemctl start docker` \
             (or `sudo service docker start`), or point DOCKER_HOST at a running engine \
             (`docker info` should work first)"
        )
    )]
    Unreachable {
        host: Host,
        #[source]
        source: Box<BollardError>,
    },

    /// The socket exists but this user may not use it.
    #[error("permission denied on the Docker socket {socket}")]
    #[diagnostic(
        code(cell::docker::permission_denied),
        help(
            "add your user to the `docker` group (`sudo usermod -aG docker $USER`, then log in \
             again or run `newgrp docker`), or run it with `sudo`, or use rootless Docker: \
             `dockerd-rootless-setuptool.sh install`, then \
             `export DOCKER_HOST=unix://$XDG_RUNTIME_DIR/docker.sock`"
        )
    )]
    PermissionDenied {
        socket: String,
        #[source]
        source: Box<BollardError>,
    },

    /// DOCKER_HOST is not something bollard can connect to.
    #[error("cannot use Docker host {host}")]
    #[diagnostic(
        code(cell::docker::invalid_host),
        help(
            "DOCKER_HOST must look like `unix:///var/run/docker.sock` or `tcp://127.0.0.1:2375`; \
             unset it to use the default socket"
        )
    )]
    InvalidHost {
        host: Host,
        #[source]
        source: Box<BollardError>,
    },

    /// The engine did not answer in time.
    #[error("the Docker engine at {host} did not answer within {seconds} s ({operation})")]
    #[diagnostic(
        code(cell::docker::timeout),
        help(
            "the daemon may be starting or overloaded: check `docker info`, and restart it \
             (`systemctl restart docker`) if it hangs"
        )
    )]
    Timeout {
        host: Host,
        operation: &'static str,
        seconds: u64,
    },

    /// CELL_TEST_LABEL is not `key=value`.
    #[error("{TEST_LABEL_ENV}={value:?} is not of the form key=value")]
    #[diagnostic(
        code(cell::docker::invalid_test_label),
        help("set it like `CELL_TEST_LABEL=dev.cell.test=run-42`, or unset it")
    )]
    InvalidTestLabel { value: String },

    /// The image is neither local nor pullable.
    #[error("the image {image} for the {cell} Cell is not available")]
    #[diagnostic(
        code(cell::docker::image_unavailable),
        help(
            "run `docker pull {image}`; or choose another image with \
             `[workspace.metadata.cell.{cell}] image = \"...\"` in Cargo.toml or the \
             environment variable {env_var}{hint}"
        )
    )]
    ImageUnavailable {
        cell: String,
        image: String,
        /// The variable that chooses the image (`CELL_POSTGRES_IMAGE`).
        env_var: String,
        /// `; without a registry, ...`, or empty.
        hint: String,
        #[source]
        source: Box<BollardError>,
    },

    /// A container or volume with our name exists but is not ours.
    #[error("a {kind} named {name} exists, but cargo-cell did not create it")]
    #[diagnostic(
        code(cell::docker::name_conflict),
        help(
            "cargo-cell never removes what it did not create: remove or rename that {kind} \
             yourself (`docker {kind} inspect {name}` shows what it is) and try again"
        )
    )]
    NameConflict { kind: &'static str, name: String },

    /// Listing containers or volumes failed.
    #[error("cannot list Docker {what}")]
    #[diagnostic(
        code(cell::docker::list),
        help("check that the engine works: `docker ps -a` and `docker volume ls`")
    )]
    List {
        what: &'static str,
        #[source]
        source: Box<BollardError>,
    },

    /// Creating the container failed.
    #[error("cannot create the container {name} for the {cell} Cell")]
    #[diagnostic(
        code(cell::docker::create),
        help("the engine's message is below; `docker info` and `docker ps -a` may tell more")
    )]
    Create {
        cell: String,
        name: String,
        #[source]
        source: Box<BollardError>,
    },

    /// Creating the volume failed.
    #[error("cannot create the volume {name} for the {cell} Cell")]
    #[diagnostic(
        code(cell::docker::volume),
        help("check free disk space and `docker volume ls`")
    )]
    Volume {
        cell: String,
        name: String,
        #[source]
        source: Box<BollardError>,
    },

    /// Starting the container failed.
    #[error("cannot start the container {name} for the {cell} Cell")]
    #[diagnostic(
        code(cell::docker::start),
        help(
            "see `docker logs {name}`; if the published port or the volume is the problem, \
             `cargo cell down {cell}` and try again"
        )
    )]
    Start {
        cell: String,
        name: String,
        #[source]
        source: Box<BollardError>,
    },

    /// The engine could not publish the Cell's port.
    #[error("the port of the {cell} Cell's container {name} is taken")]
    #[diagnostic(
        code(cell::docker::port_conflict),
        help(
            "another process or container holds it: `cargo cell down {cell}` and then \
             `cargo cell up {cell}` picks a new ephemeral port; `docker ps` shows what else publishes ports"
        )
    )]
    PortConflict {
        cell: String,
        name: String,
        #[source]
        source: Box<BollardError>,
    },

    /// The container stopped right after it started.
    #[error("the container {name} of the {cell} Cell is not running ({state})")]
    #[diagnostic(
        code(cell::docker::not_running),
        help(
            "its last log lines:\n{logs}\nfix the cause, or `cargo cell down {cell}` to start afresh"
        )
    )]
    NotRunning {
        cell: String,
        name: String,
        state: String,
        logs: String,
    },

    /// Inspecting a container, image or volume failed.
    #[error("cannot inspect {what}")]
    #[diagnostic(
        code(cell::docker::inspect),
        help("check that it still exists and that the engine works (`docker ps -a`)")
    )]
    Inspect {
        what: String,
        #[source]
        source: Box<BollardError>,
    },

    /// Removing a container or volume failed.
    #[error("cannot remove {what}")]
    #[diagnostic(
        code(cell::docker::remove),
        help(
            "remove it by hand with `docker rm -f` or `docker volume rm`; a volume still used \
             by a container cannot be removed"
        )
    )]
    Remove {
        what: String,
        #[source]
        source: Box<BollardError>,
    },

    /// Reading a container's logs failed.
    #[error("cannot read the logs of the container {container}")]
    #[diagnostic(
        code(cell::docker::logs),
        help("check that the container still exists: `cargo cell status`")
    )]
    Logs {
        container: String,
        #[source]
        source: Box<BollardError>,
    },

    /// Running a command in a container failed.
    #[error("cannot run {cmd:?} in the container {container}")]
    #[diagnostic(
        code(cell::docker::exec),
        help("check that the container is running: `docker ps`")
    )]
    Exec {
        container: String,
        cmd: Vec<String>,
        #[source]
        source: Box<BollardError>,
    },

    /// An image a Cell builds (from files it provides) failed to build.
    #[error("cannot build the image {image}: {why}")]
    #[diagnostic(
        code(cell::docker::build),
        help(
            "the build's own output is above with -v; `docker build` of the same context shows it too"
        )
    )]
    Build { image: String, why: String },

    /// Files could not be copied into a container.
    #[error("cannot copy files into {dir} of container {container}: {why}")]
    #[diagnostic(
        code(cell::docker::copy),
        help(
            "the folder must exist in the image; `cargo cell logs` and `docker inspect` show the container's state"
        )
    )]
    Copy {
        container: String,
        dir: String,
        why: String,
    },
}

impl DockerError {
    /// Whether the engine itself cannot be reached (as opposed to one operation failing):
    /// these exit with their own code.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            DockerError::Unreachable { .. }
                | DockerError::PermissionDenied { .. }
                | DockerError::InvalidHost { .. }
                | DockerError::Timeout { .. }
        )
    }
}

/// A failed start, told apart: a taken port has its own fix.
pub(super) fn start_error(cell: &str, name: &str, source: BollardError) -> DockerError {
    let text = source.to_string();
    if text.contains("port is already allocated") || text.contains("address already in use") {
        DockerError::PortConflict {
            cell: cell.to_owned(),
            name: name.to_owned(),
            source: Box::new(source),
        }
    } else {
        DockerError::Start {
            cell: cell.to_owned(),
            name: name.to_owned(),
            source: Box::new(source),
        }
    }
}

pub(super) fn is_status(err: &BollardError, code: u16) -> bool {
    matches!(err, BollardError::DockerResponseServerError { status_code, .. } if *status_code == code)
}

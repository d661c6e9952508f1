//! Images: found locally, else pulled with progress; or built from a context a Cell makes
//! (the Auth Cell's token service); and files copied into a container.

use std::collections::HashMap;
use std::fmt;

use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateImageOptionsBuilder, UploadToContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::engine::Engine;
use super::error::{DockerError, is_status};
use super::spec::CellSpec;
use super::{LABEL_MANAGED_BY, MANAGED_BY};
use crate::ui::Ui;

/// A file for [`Engine::build_image`]'s context or [`Engine::copy_into`].
#[derive(Debug, Clone, Copy)]
pub struct File<'a> {
    /// Its path in the archive (relative), such as `Dockerfile`.
    pub name: &'a str,
    /// Its permission bits, such as `0o644`.
    pub mode: u32,
    pub bytes: &'a [u8],
}

/// `files` as a tar archive, as the engine takes build contexts and uploads.
pub fn tar(files: &[File<'_>]) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    for file in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(file.bytes.len() as u64);
        header.set_mode(file.mode);
        header.set_cksum();
        tar.append_data(&mut header, file.name, file.bytes)?;
    }
    tar.into_inner()
}

impl Engine {
    /// Whether the image `reference` exists locally.
    pub async fn has_image(&self, reference: &str) -> Result<bool, DockerError> {
        match self.docker.inspect_image(reference).await {
            Ok(_) => Ok(true),
            Err(e) if is_status(&e, 404) => Ok(false),
            Err(source) => Err(DockerError::Inspect {
                what: format!("image {reference}"),
                source: Box::new(source),
            }),
        }
    }

    /// Builds the image `tag` from `files` (a `Dockerfile` among them), labelled as ours;
    /// each line the build prints goes to `on_line`. The engine pulls nothing by itself, so
    /// `FROM` must name an image it has or can pull.
    pub async fn build_image(
        &self,
        tag: &str,
        files: &[File<'_>],
        mut on_line: impl FnMut(&str),
    ) -> Result<(), DockerError> {
        let fail = |why: String| DockerError::Build {
            image: tag.to_owned(),
            why,
        };
        let context = tar(files).map_err(|e| fail(e.to_string()))?;
        let labels = HashMap::from([(LABEL_MANAGED_BY.to_owned(), MANAGED_BY.to_owned())]);
        let options = BuildImageOptionsBuilder::default()
            .dockerfile("Dockerfile")
            .t(tag)
            .rm(true)
            .forcerm(true)
            .labels(&labels)
            .build();
        let mut stream =
            self.docker
                .build_image(options, None, Some(bollard::body_full(context.into())));
        let mut last = String::new();
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| fail(e.to_string()))?;
            if let Some(message) = info.error_detail.and_then(|d| d.message) {
                return Err(fail(message));
            }
            if let Some(line) = info.stream {
                let line = line.trim();
                if !line.is_empty() {
                    on_line(line);
                    last = line.to_owned();
                }
            }
        }
        // A build that "succeeded" without leaving the image still fails.
        if !self.has_image(tag).await? {
            return Err(fail(format!(
                "the engine built no image (last output: {last})"
            )));
        }
        Ok(())
    }

    /// Writes `files` into the folder `dir` of a container (created or running), through
    /// the engine's archive API: no shell or tool is needed inside the image.
    pub async fn copy_into(
        &self,
        container_id: &str,
        dir: &str,
        files: &[File<'_>],
    ) -> Result<(), DockerError> {
        let fail = |why: String| DockerError::Copy {
            container: container_id.chars().take(12).collect(),
            dir: dir.to_owned(),
            why,
        };
        let archive = tar(files).map_err(|e| fail(e.to_string()))?;
        let options = UploadToContainerOptionsBuilder::default().path(dir).build();
        self.docker
            .upload_to_container(
                container_id,
                Some(options),
                bollard::body_full(archive.into()),
            )
            .await
            .map_err(|e| fail(e.to_string()))
    }

    /// The image exists locally, or is pulled (with progress).
    pub(super) async fn ensure_image(&self, spec: &CellSpec, ui: &Ui) -> Result<(), DockerError> {
        match self.docker.inspect_image(&spec.image).await {
            Ok(_) => return Ok(()),
            Err(e) if is_status(&e, 404) => {}
            Err(source) => {
                return Err(DockerError::Inspect {
                    what: format!("image {}", spec.image),
                    source: Box::new(source),
                });
            }
        }
        let unavailable = |source| DockerError::ImageUnavailable {
            cell: spec.cell.clone(),
            image: spec.image.clone(),
            env_var: spec.image_env.clone(),
            hint: if spec.image_hint.is_empty() {
                String::new()
            } else {
                format!("; without a registry, {}", spec.image_hint)
            },
            source: Box::new(source),
        };
        let task = ui.task(&spec.cell, &format!("pulling {}", spec.image));
        let (repo, tag) = split_reference(&spec.image);
        let mut options = CreateImageOptionsBuilder::default().from_image(repo);
        if let Some(tag) = tag {
            options = options.tag(tag);
        }
        let mut stream = self.docker.create_image(Some(options.build()), None, None);
        let mut progress = PullProgress::default();
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    progress.update(&info);
                    task.set_message(format!("pulling {}: {}", spec.image, progress));
                }
                Err(source) => {
                    task.fail(format!("cannot pull {}", spec.image));
                    return Err(unavailable(source));
                }
            }
        }
        // A pull that "succeeded" without giving us the image still fails.
        if let Err(source) = self.docker.inspect_image(&spec.image).await {
            task.fail(format!("cannot pull {}", spec.image));
            return Err(unavailable(source));
        }
        task.finish(format!("pulled {}", spec.image));
        Ok(())
    }
}

/// Progress of one pull, summed over layers.
#[derive(Default)]
struct PullProgress {
    layers: HashMap<String, (i64, i64, bool)>,
    status: String,
}

impl PullProgress {
    fn update(&mut self, info: &bollard::models::CreateImageInfo) {
        let status = info.status.clone().unwrap_or_default();
        match &info.id {
            Some(id) if !id.is_empty() && id.len() <= 12 && status != "Pulling from" => {
                let layer = self.layers.entry(id.clone()).or_default();
                if let Some(detail) = &info.progress_detail
                    && let (Some(current), Some(total)) = (detail.current, detail.total)
                    && total > 0
                {
                    layer.0 = current;
                    layer.1 = total;
                }
                if status.starts_with("Pull complete") || status.starts_with("Already exists") {
                    layer.0 = layer.1;
                    layer.2 = true;
                }
            }
            _ => self.status = status,
        }
    }
}

impl fmt::Display for PullProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.layers.is_empty() {
            return f.write_str(if self.status.is_empty() {
                "starting"
            } else {
                &self.status
            });
        }
        let done = self.layers.values().filter(|l| l.2).count();
        let current: i64 = self.layers.values().map(|l| l.0).sum();
        let total: i64 = self.layers.values().map(|l| l.1).sum();
        let mb = |b: i64| b as f64 / 1_000_000.0;
        write!(
            f,
            "{done}/{} layers, {:.1}/{:.1} MB",
            self.layers.len(),
            mb(current),
            mb(total)
        )
    }
}

/// `repo[:tag]` → (repo, tag); a digest reference stays whole. A registry
/// host with a port (`localhost:5000/pg`) is not mistaken for a tag.
pub(super) fn split_reference(image: &str) -> (&str, Option<&str>) {
    if image.contains('@') {
        return (image, None);
    }
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].rfind(':') {
        Some(i) => (&image[..last_slash + i], Some(&image[last_slash + i + 1..])),
        None => (image, Some("latest")),
    }
}

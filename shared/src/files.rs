//! Where uploaded import files live: an S3 bucket in AWS (clients upload straight to it with a
//! presigned PUT), or a folder on disk for the embedded default, whose local server serves the
//! equivalent upload endpoint.

use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;

use crate::error::{Error, Result};

mod stream;
pub use stream::{FileWriter, PART_BYTES};

#[derive(Clone)]
pub enum FileStore {
    S3 { client: crate::aws::Lazy<aws_sdk_s3::Client>, bucket: String },
    Disk { dir: PathBuf },
}

/// Where and how a client sends a file.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct PresignedUpload {
    pub url: String,
    /// Always `PUT`.
    pub method: &'static str,
    /// Headers the request must carry exactly (they are part of the signature).
    pub headers: std::collections::BTreeMap<String, String>,
}

fn storage(e: impl std::fmt::Display) -> Error {
    Error::Storage(crate::error::Fault::msg(format!("file storage: {e}")))
}

/// Object keys are generated here (`imports/<org>/<upload>`), never taken from clients.
fn safe_key(key: &str) -> Result<&str> {
    if key.split('/').all(|p| {
        !p.is_empty() && p != "." && p != ".." && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }) {
        Ok(key)
    } else {
        Err(crate::error::Error::internal(format!("unsafe object key {key:?}")))
    }
}

impl FileStore {
    pub fn s3(sdk: &aws_config::SdkConfig, bucket: &str, endpoint: Option<&str>) -> Self {
        let client = match endpoint {
            // Local engines answer on one host: bucket in the path, not the host name.
            Some(url) => {
                let sdk = sdk.clone().into_builder().endpoint_url(url).build();
                crate::aws::Lazy::new(&sdk, |sdk| {
                    aws_sdk_s3::Client::from_conf(
                        aws_sdk_s3::config::Builder::from(sdk)
                            .force_path_style(true)
                            .interceptor(crate::aws::ActionRecorder)
                            .build(),
                    )
                })
            }
            None => crate::aws::Lazy::new(sdk, |sdk| {
                aws_sdk_s3::Client::from_conf(
                    aws_sdk_s3::config::Builder::from(sdk).interceptor(crate::aws::ActionRecorder).build(),
                )
            }),
        };
        FileStore::S3 { client, bucket: bucket.to_owned() }
    }

    fn path(dir: &std::path::Path, key: &str) -> Result<PathBuf> {
        Ok(dir.join(safe_key(key)?))
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<()> {
        match self {
            FileStore::S3 { client, bucket } => {
                client
                    .get()
                    .put_object()
                    .bucket(bucket)
                    .key(safe_key(key)?)
                    .body(bytes.into())
                    .send()
                    .await
                    .map_err(storage)?;
            }
            FileStore::Disk { dir } => {
                let path = Self::path(dir, key)?;
                if let Some(parent) = path.parent() {
                    tokio::fs::create_dir_all(parent).await.map_err(storage)?;
                }
                // Write then rename, so a reader never sees half a file.
                let tmp = path.with_extension("part");
                tokio::fs::write(&tmp, bytes).await.map_err(storage)?;
                tokio::fs::rename(&tmp, &path).await.map_err(storage)?;
            }
        }
        Ok(())
    }

    /// The object's size, or `None` when nothing was uploaded yet.
    pub async fn size(&self, key: &str) -> Result<Option<u64>> {
        match self {
            FileStore::S3 { client, bucket } => {
                match client.get().head_object().bucket(bucket).key(safe_key(key)?).send().await {
                    Ok(h) => Ok(Some(h.content_length().unwrap_or_default().max(0) as u64)),
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
                    Err(e) => Err(storage(aws_sdk_s3::error::DisplayErrorContext(e))),
                }
            }
            FileStore::Disk { dir } => match tokio::fs::metadata(Self::path(dir, key)?).await {
                Ok(m) => Ok(Some(m.len())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(storage(e)),
            },
        }
    }

    /// The whole object, refused when larger than `max` (checked before reading it).
    pub async fn get(&self, key: &str, max: u64) -> Result<Vec<u8>> {
        let size = self.size(key).await?.ok_or(Error::NotFound("uploaded file"))?;
        if size > max {
            return Err(Error::validation("file_too_large", "file", format!("files are at most {max} bytes")));
        }
        match self {
            FileStore::S3 { client, bucket } => {
                let out = client.get().get_object().bucket(bucket).key(safe_key(key)?).send().await.map_err(storage)?;
                let bytes = out.body.collect().await.map_err(storage)?.into_bytes();
                if bytes.len() as u64 > max {
                    return Err(Error::validation("file_too_large", "file", format!("files are at most {max} bytes")));
                }
                Ok(bytes.to_vec())
            }
            FileStore::Disk { dir } => tokio::fs::read(Self::path(dir, key)?).await.map_err(storage),
        }
    }

    /// A URL the client PUTs exactly `size` bytes to. For the disk store, `local_url` is the
    /// local server's upload endpoint for this upload (it checks the token itself).
    pub async fn presign_put(&self, key: &str, size: u64, ttl: Duration, local_url: String) -> Result<PresignedUpload> {
        let mut headers = std::collections::BTreeMap::new();
        headers.insert("content-length".to_owned(), size.to_string());
        let url = match self {
            FileStore::S3 { client, bucket } => {
                let config = PresigningConfig::expires_in(ttl).map_err(storage)?;
                // The length is signed: S3 refuses a body of any other size.
                let req = client
                    .get()
                    .put_object()
                    .bucket(bucket)
                    .key(safe_key(key)?)
                    .content_length(size as i64)
                    .presigned(config)
                    .await
                    .map_err(storage)?;
                req.uri().to_owned()
            }
            FileStore::Disk { .. } => local_url,
        };
        Ok(PresignedUpload { url, method: "PUT", headers })
    }

    /// A URL that GETs the object for `ttl` (S3 only: the disk store has no such URL, and its
    /// files are served by the API itself).
    pub async fn presign_get(&self, key: &str, ttl: Duration, file_name: &str) -> Result<Option<String>> {
        match self {
            FileStore::S3 { client, bucket } => {
                let config = PresigningConfig::expires_in(ttl).map_err(storage)?;
                let req = client
                    .get()
                    .get_object()
                    .bucket(bucket)
                    .key(safe_key(key)?)
                    .response_content_disposition(format!("attachment; filename=\"{file_name}\""))
                    .presigned(config)
                    .await
                    .map_err(storage)?;
                Ok(Some(req.uri().to_owned()))
            }
            FileStore::Disk { .. } => Ok(None),
        }
    }

    /// Delete every object whose key starts with `prefix/`; returns how many were deleted.
    /// A page of keys (1,000) is one list and one batch delete.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<usize> {
        let prefix = safe_key(prefix)?;
        match self {
            FileStore::S3 { client, bucket } => {
                let mut deleted = 0;
                loop {
                    let page = client
                        .get()
                        .list_objects_v2()
                        .bucket(bucket)
                        .prefix(format!("{prefix}/"))
                        .send()
                        .await
                        .map_err(|e| storage(aws_sdk_s3::error::DisplayErrorContext(e)))?;
                    let keys: Vec<_> = page.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect();
                    if keys.is_empty() {
                        return Ok(deleted);
                    }
                    let objects = keys
                        .iter()
                        .map(|k| aws_sdk_s3::types::ObjectIdentifier::builder().key(k).build().map_err(storage))
                        .collect::<Result<Vec<_>>>()?;
                    let delete = aws_sdk_s3::types::Delete::builder()
                        .set_objects(Some(objects))
                        .quiet(true)
                        .build()
                        .map_err(storage)?;
                    client
                        .get()
                        .delete_objects()
                        .bucket(bucket)
                        .delete(delete)
                        .send()
                        .await
                        .map_err(|e| storage(aws_sdk_s3::error::DisplayErrorContext(e)))?;
                    deleted += keys.len();
                }
            }
            FileStore::Disk { dir } => {
                let path = Self::path(dir, prefix)?;
                let count = files_under(&path).await?.len();
                match tokio::fs::remove_dir_all(&path).await {
                    Ok(()) => Ok(count),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
                    Err(e) => Err(storage(e)),
                }
            }
        }
    }

    /// Every object key (test inspection and the purge's final check).
    pub async fn keys(&self) -> Result<Vec<String>> {
        match self {
            FileStore::S3 { client, bucket } => {
                let page = client
                    .get()
                    .list_objects_v2()
                    .bucket(bucket)
                    .send()
                    .await
                    .map_err(|e| storage(aws_sdk_s3::error::DisplayErrorContext(e)))?;
                Ok(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect())
            }
            FileStore::Disk { dir } => Ok(files_under(dir)
                .await?
                .iter()
                .filter_map(|p| p.strip_prefix(dir).ok().map(|r| r.to_string_lossy().into_owned()))
                .collect()),
        }
    }

    pub fn is_disk(&self) -> bool {
        matches!(self, FileStore::Disk { .. })
    }
}

/// Every file beneath `dir` (none when it does not exist).
async fn files_under(dir: &std::path::Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries = match tokio::fs::read_dir(&d).await {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(storage(e)),
        };
        while let Some(entry) = entries.next_entry().await.map_err(storage)? {
            if entry.file_type().await.map_err(storage)?.is_dir() {
                stack.push(entry.path());
            } else {
                out.push(entry.path());
            }
        }
    }
    Ok(out)
}

//! Writing a large file without holding it: bytes are buffered up to a part and sent on, as
//! an S3 multipart upload (parts of [`PART_BYTES`]; a file that never fills one part is a
//! single `PutObject`), or appended to a temporary file renamed into place at the end. Memory
//! stays one part, whatever the file's size.

use std::path::PathBuf;

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use tokio::io::AsyncWriteExt;

use super::{FileStore, safe_key, storage};
use crate::error::Result;

/// S3 takes parts of at least 5 MiB but the last; 8 MiB keeps a 1 GB file under 130 parts.
pub const PART_BYTES: usize = 8 * 1024 * 1024;

enum Target {
    S3 {
        client: aws_sdk_s3::Client,
        bucket: String,
        key: String,
        /// Once the first part is sent: the upload's id and the parts so far.
        upload: Option<(String, Vec<CompletedPart>)>,
    },
    Disk {
        tmp: PathBuf,
        path: PathBuf,
        file: tokio::fs::File,
    },
}

pub struct FileWriter {
    target: Target,
    buf: Vec<u8>,
    part_bytes: usize,
    written: u64,
}

impl FileStore {
    /// A writer for `key`, sending parts of `part_bytes` (tests use small ones).
    pub async fn writer(&self, key: &str, part_bytes: usize) -> Result<FileWriter> {
        let target = match self {
            FileStore::S3 { client, bucket } => Target::S3 {
                client: client.get().clone(),
                bucket: bucket.clone(),
                key: safe_key(key)?.to_owned(),
                upload: None,
            },
            FileStore::Disk { dir } => {
                let path = Self::path(dir, key)?;
                if let Some(parent) = path.parent() {
                    tokio::fs::create_dir_all(parent).await.map_err(storage)?;
                }
                let tmp = path.with_extension("part");
                let file = tokio::fs::File::create(&tmp).await.map_err(storage)?;
                Target::Disk { tmp, path, file }
            }
        };
        Ok(FileWriter { target, buf: Vec::new(), part_bytes: part_bytes.max(1), written: 0 })
    }
}

impl FileWriter {
    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.written
    }

    pub fn is_empty(&self) -> bool {
        self.written == 0
    }

    pub async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.buf.extend_from_slice(bytes);
        self.written += bytes.len() as u64;
        if self.buf.len() >= self.part_bytes {
            self.send_part().await?;
        }
        Ok(())
    }

    async fn send_part(&mut self) -> Result<()> {
        let body = std::mem::take(&mut self.buf);
        match &mut self.target {
            Target::S3 { client, bucket, key, upload } => {
                if upload.is_none() {
                    let started =
                        client.create_multipart_upload().bucket(&*bucket).key(&*key).send().await.map_err(storage)?;
                    let id = started.upload_id().ok_or_else(|| storage("no upload id"))?.to_owned();
                    *upload = Some((id, Vec::new()));
                }
                let Some((id, parts)) = upload.as_mut() else { return Err(storage("no upload")) };
                let number = parts.len() as i32 + 1;
                let sent = client
                    .upload_part()
                    .bucket(&*bucket)
                    .key(&*key)
                    .upload_id(&*id)
                    .part_number(number)
                    .body(body.into())
                    .send()
                    .await
                    .map_err(storage)?;
                parts.push(
                    CompletedPart::builder().part_number(number).set_e_tag(sent.e_tag().map(str::to_owned)).build(),
                );
            }
            Target::Disk { file, .. } => file.write_all(&body).await.map_err(storage)?,
        }
        Ok(())
    }

    /// Make the file whole and visible; returns its size.
    pub async fn finish(mut self) -> Result<u64> {
        match &mut self.target {
            Target::S3 { upload: None, client, bucket, key } => {
                let body = std::mem::take(&mut self.buf);
                client.put_object().bucket(&*bucket).key(&*key).body(body.into()).send().await.map_err(storage)?;
            }
            Target::S3 { .. } => {
                if !self.buf.is_empty() {
                    self.send_part().await?;
                }
                let Target::S3 { client, bucket, key, upload: Some((id, parts)) } = &mut self.target else {
                    return Err(storage("no upload"));
                };
                let done = CompletedMultipartUpload::builder().set_parts(Some(std::mem::take(parts))).build();
                client
                    .complete_multipart_upload()
                    .bucket(&*bucket)
                    .key(&*key)
                    .upload_id(&*id)
                    .multipart_upload(done)
                    .send()
                    .await
                    .map_err(storage)?;
            }
            Target::Disk { .. } => {
                if !self.buf.is_empty() {
                    self.send_part().await?;
                }
                let Target::Disk { tmp, path, file } = &mut self.target else { return Err(storage("no file")) };
                file.flush().await.map_err(storage)?;
                tokio::fs::rename(&*tmp, &*path).await.map_err(storage)?;
            }
        }
        Ok(self.written)
    }

    /// Give up: nothing becomes visible, and what was sent is discarded (the bucket's rule
    /// also ends multipart uploads left incomplete, as by a process that died).
    pub async fn abort(self) {
        match self.target {
            Target::S3 { client, bucket, key, upload: Some((id, _)) } => {
                if let Err(e) = client.abort_multipart_upload().bucket(bucket).key(key).upload_id(id).send().await {
                    tracing::warn!(error = %e, "multipart upload not aborted; the bucket's rule ends it");
                }
            }
            Target::S3 { upload: None, .. } => {}
            Target::Disk { tmp, .. } => {
                let _ = tokio::fs::remove_file(tmp).await;
            }
        }
    }
}

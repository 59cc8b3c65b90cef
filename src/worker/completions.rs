//! Group commit of completions: jobs that end while another completion is being
//! written wait for it, and the next writer sends all of them in one statement
//! (`queue::complete_batch`). Short investigations are bound by one WAL flush
//! per commit, so sharing the commit is what lets throughput rise with
//! concurrency; nothing waits on purpose, so a lone job completes at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, Result};
use tokio::sync::oneshot;

use super::{JobHandle, Shared};
use crate::queue::{self, Completion, Fence, Fenced};

struct Waiting {
    handle: Arc<JobHandle>,
    fence: Fence,
    completion: Arc<Completion>,
    /// The error as text: one failure answers every job of its batch.
    reply: oneshot::Sender<Result<Fenced, String>>,
}

#[derive(Default)]
pub(crate) struct Completions {
    waiting: Mutex<Vec<Waiting>>,
    /// Held while a batch is written: who gets it next takes everything queued.
    writer: tokio::sync::Mutex<()>,
    /// Completions queued or being written.
    pending: AtomicUsize,
    /// Told when a batch has been answered.
    answered: tokio::sync::Notify,
}

impl Completions {
    /// Writes this completion, with whatever others are waiting; whether the
    /// row was still ours. An error means nothing of the batch was written and
    /// the caller may try again.
    pub(crate) async fn complete(
        &self,
        shared: &Shared,
        handle: &Arc<JobHandle>,
        completion: Arc<Completion>,
    ) -> Result<Fenced> {
        let (reply, answer) = oneshot::channel();
        self.pending.fetch_add(1, Ordering::SeqCst);
        self.lock().push(Waiting {
            handle: handle.clone(),
            fence: handle.fence,
            completion,
            reply,
        });
        {
            let _turn = self.writer.lock().await;
            let batch = std::mem::take(&mut *self.lock());
            if !batch.is_empty() {
                let pairs: Vec<(Fence, &Completion)> =
                    batch.iter().map(|w| (w.fence, &*w.completion)).collect();
                let pairs = &pairs;
                let written = shared
                    .with_client(|c| async move { queue::complete_batch(&c, pairs).await })
                    .await;
                shared.metrics.completion_batch(batch.len());
                let answered = batch.len();
                for w in batch {
                    let answer = match &written {
                        Ok(ids) if ids.contains(&w.fence.id) => Ok(Fenced::Written),
                        Ok(_) => Ok(Fenced::Lost),
                        Err(e) => Err(format!("{e:#}")),
                    };
                    if answer.is_ok() {
                        // Over for this worker either way: the claim may refill it.
                        shared.free_slot(&w.handle);
                    }
                    // A job that stopped waiting is told nothing; its row is written.
                    let _ = w.reply.send(answer);
                }
                self.pending.fetch_sub(answered, Ordering::SeqCst);
                self.answered.notify_waiters();
            }
        }
        match answer.await {
            Ok(Ok(fenced)) => Ok(fenced),
            Ok(Err(e)) => Err(anyhow!(e)),
            // The writer that took it was dropped mid-write (shutdown): unknown.
            Err(_) => Err(anyhow!("the completion was not confirmed")),
        }
    }

    /// Returns once no completion is queued or being written.
    pub(crate) async fn settled(&self) {
        loop {
            let answered = self.answered.notified();
            tokio::pin!(answered);
            answered.as_mut().enable();
            if self.pending.load(Ordering::SeqCst) == 0 {
                return;
            }
            answered.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Waiting>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

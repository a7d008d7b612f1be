//! A quiet HTTP transport for alloy's RPC client.
//!
//! alloy-transport-http records the full endpoint URL in a `debug` span, and reqwest puts it in
//! its error messages; RPC URLs carry API keys. This transport posts JSON-RPC packets with
//! reqwest, strips URLs from errors and logs nothing, so the key never leaves this module.

use std::task::{Context, Poll};

use alloy_json_rpc::{RequestPacket, ResponsePacket};
use alloy_transport::{TransportError, TransportErrorKind, TransportFut};

#[derive(Clone)]
pub(crate) struct QuietHttp {
    client: reqwest::Client,
    url: reqwest::Url,
}

impl QuietHttp {
    pub(crate) fn new(url: reqwest::Url) -> Self {
        QuietHttp { client: reqwest::Client::new(), url }
    }
}

impl tower::Service<RequestPacket> for QuietHttp {
    type Response = ResponsePacket;
    type Error = TransportError;
    type Future = TransportFut<'static>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: RequestPacket) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let body = serde_json::to_vec(&req).map_err(TransportError::ser_err)?;
            let resp = this
                .client
                .post(this.url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await
                .map_err(|e| TransportErrorKind::custom(e.without_url()))?;
            let status = resp.status();
            let bytes = resp.bytes().await.map_err(|e| TransportErrorKind::custom(e.without_url()))?;
            if !status.is_success() {
                let text = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).into_owned();
                return Err(TransportErrorKind::http_error(status.as_u16(), text));
            }
            serde_json::from_slice(&bytes).map_err(|e| TransportError::deser_err(e, String::from_utf8_lossy(&bytes)))
        })
    }
}

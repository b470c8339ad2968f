//! `RetryRaces`: a request that lost a race inside the database (a deadlock or a serialization
//! failure, answered 409 `concurrent_update` and marked [`RolledBackRace`]) was rolled back
//! whole, so the server runs it again itself, up to [`ATTEMPTS`] times with a short random
//! pause, before the client sees the 409 (with `Retry-After`). Every handler changes the
//! database in one transaction, which is what makes the rerun safe.

use crate::error::RolledBackRace;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::Method;
use actix_web::{Error, ResponseError};
use futures_util::future::LocalBoxFuture;
use std::future::{Ready, ready};
use std::rc::Rc;
use std::time::Duration;

/// How many times a request is run at most.
pub const ATTEMPTS: u32 = 4;

pub struct RetryRaces;

impl<S, B> Transform<S, ServiceRequest> for RetryRaces
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Transform = RetryRacesService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RetryRacesService {
            service: Rc::new(service),
        }))
    }
}

pub struct RetryRacesService<S> {
    service: Rc<S>,
}

impl<S, B> Service<ServiceRequest> for RetryRacesService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = self.service.clone();
        Box::pin(async move {
            if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
                return service
                    .call(req)
                    .await
                    .map(ServiceResponse::map_into_boxed_body);
            }
            let (http, mut payload) = req.into_parts();
            let body = match super::json::read_body(&http, &mut payload).await {
                Ok(body) => body,
                Err(refused) => {
                    let response = refused.error_response();
                    return Ok(ServiceResponse::new(http, response));
                }
            };
            let mut http = http;
            let mut attempt = 1;
            loop {
                let mut request = ServiceRequest::from_parts(http, Payload::from(body.clone()));
                // Routing starts again from the whole path.
                request.match_info_mut().reset();
                let response = service.call(request).await?;
                let lost_race = response
                    .response()
                    .extensions()
                    .get::<RolledBackRace>()
                    .is_some();
                if !lost_race || attempt >= ATTEMPTS {
                    return Ok(response.map_into_boxed_body());
                }
                tracing::info!(attempt, "rolled back by a race; running the request again");
                let (request, _) = response.into_parts();
                http = request;
                attempt += 1;
                tokio::time::sleep(pause(attempt)).await;
            }
        })
    }
}

/// A pause that grows with the attempt and is spread at random, so that the racers part.
fn pause(attempt: u32) -> Duration {
    let base = 5u64 << attempt.min(6);
    Duration::from_millis(base + getrandom::u64().unwrap_or(0) % base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;
    use actix_web::{App, HttpResponse, test, web};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// An app whose handler loses `$losses` races, then answers what it was sent.
    macro_rules! app_losing {
        ($losses:expr) => {{
            let calls = Arc::new(AtomicU32::new(0));
            let seen = calls.clone();
            let losses: u32 = $losses;
            let service = test::init_service(App::new().wrap(RetryRaces).route(
                "/things/{id}",
                web::post().to(move |id: web::Path<u32>, body: web::Bytes| {
                    let calls = seen.clone();
                    async move {
                        if calls.fetch_add(1, Ordering::SeqCst) < losses {
                            return Err(ApiError::race());
                        }
                        Ok::<_, ApiError>(HttpResponse::Ok().body(format!(
                            "{} {}",
                            id.into_inner(),
                            String::from_utf8_lossy(&body)
                        )))
                    }
                }),
            ))
            .await;
            (service, calls)
        }};
    }

    #[actix_web::test]
    async fn a_request_rolled_back_by_a_race_runs_again_with_its_path_and_body() {
        let (app, calls) = app_losing!(2);
        let request = test::TestRequest::post()
            .uri("/things/7")
            .set_payload("the body")
            .to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(
            (response.status().as_u16(), calls.load(Ordering::SeqCst)),
            (200, 3)
        );
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        let body = test::read_body(response).await;
        assert_eq!(&body[..], b"7 the body");
    }

    #[actix_web::test]
    async fn a_request_that_keeps_losing_answers_409_with_retry_after() {
        let (app, calls) = app_losing!(u32::MAX);
        let request = test::TestRequest::post().uri("/things/1").to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status(), 409);
        assert_eq!(calls.load(Ordering::SeqCst), ATTEMPTS);
        assert_eq!(
            response.headers().get("Retry-After").map(|v| v.as_bytes()),
            Some(&b"1"[..])
        );
    }
}

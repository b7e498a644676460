//! The cold-start floor for `tests/bench/coldstart.sh`: the smallest `lambda_http` function,
//! built with the same profile and the same `lambda_http` features as the real functions,
//! answering every request with 200 "ok". Whatever a real function takes beyond this is its
//! own initialisation and work.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|_req: Request| async {
        Response::builder()
            .status(200)
            .header("content-type", "text/plain; charset=utf-8")
            .body(Body::from("ok"))
            .map_err(Error::from)
    }))
    .await
}

"""Optional CloudFront in front of the API so the redirect sees the viewer's country and city."""

from __future__ import annotations

from aws_cdk import Aws, Fn
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.cdk import nag
from infra.cdk.config import StageConfig

# What the redirect reads: geo headers CloudFront adds, plus the click's own headers. Host is never
# forwarded (API Gateway routes on its own host name). Ten headers is the per-policy quota.
REDIRECT_HEADERS = (
    "CloudFront-Viewer-Country",
    "CloudFront-Viewer-Country-Region",
    "CloudFront-Viewer-City",
    "CloudFront-Viewer-Address",
    "CloudFront-Is-Mobile-Viewer",
    "User-Agent",
    "Referer",
    "Accept-Language",
)
REDIRECT_PATH = "/r/*"


class Edge(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: StageConfig, api_id: str, logs_bucket: s3.IBucket
    ) -> None:
        super().__init__(scope, construct_id)
        origin = origins.HttpOrigin(
            Fn.join("", [api_id, ".execute-api.", Aws.REGION, ".", Aws.URL_SUFFIX]),
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
            origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
        )
        redirect_policy = cloudfront.OriginRequestPolicy(
            self,
            "RedirectRequests",
            comment="Multibuzz redirect: viewer geo headers, click headers, query and cookies",
            header_behavior=cloudfront.OriginRequestHeaderBehavior.allow_list(*REDIRECT_HEADERS),
            query_string_behavior=cloudfront.OriginRequestQueryStringBehavior.all(),
            cookie_behavior=cloudfront.OriginRequestCookieBehavior.all(),
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"{config.prefix}: tracking-link redirects",
            # Only /r/* is meant to be served here; anything else is passed through uncached as-is.
            default_behavior=cloudfront.BehaviorOptions(
                origin=origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            ),
            additional_behaviors={
                REDIRECT_PATH: cloudfront.BehaviorOptions(
                    origin=origin,
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                    # Every click must reach the function to be counted: never cache a redirect.
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    origin_request_policy=redirect_policy,
                )
            },
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            enable_logging=True,
            log_bucket=logs_bucket,
            log_file_prefix="cloudfront/",
        )

        for rule in ("AwsSolutions-CFR1", "AwsSolutions-CFR2", "AwsSolutions-CFR4"):
            nag.acknowledge(self.distribution, rule)

    @property
    def url(self) -> str:
        return f"https://{self.distribution.distribution_domain_name}"

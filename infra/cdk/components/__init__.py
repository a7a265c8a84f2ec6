"""One construct per concern; the stack (``infra.cdk.stack``) composes them."""

"""HTTP resources: each translates a request into a call and back."""

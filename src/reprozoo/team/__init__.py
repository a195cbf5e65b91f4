"""A team's set-up (docs/team.md): one MLflow tracking server on PostgreSQL with artifacts on S3."""

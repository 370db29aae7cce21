"""The gateway database: models, engine, migrations and small data APIs."""

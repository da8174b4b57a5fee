"""tortoise-orm models of the cloud, one module per part (all in the app label "models")."""

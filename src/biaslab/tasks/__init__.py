"""The LightningModules (one model, K packed seeds, sequences), their guards, the registry."""

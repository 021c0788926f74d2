"""The operator dashboard under the admin (/admin/dashboard/): it shows both apps, the
exchange's markets and accounts and the chain workers' state, so it sits in the project
package above them (docs/architecture.md, "Layers")."""

"""Parts of the synthetic onboarding population (``openidv synth identities``): locale tables, people,
how people type their identifiers, the shared network (carrier NAT, offices, campuses), innocent groups
and fraud rings. ``openidv.synth.identities`` puts them together. Everything here is SYNTHETIC."""

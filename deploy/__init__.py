"""Running and operating Payung, one folder per purpose.

``native/`` the native stack behind ``./payung up`` (Kafka from jars, PostgreSQL, Keycloak, the services as
processes); ``ops/`` the operator commands of ``./payung``; ``kube/`` the generator of ``k8s/``'s manifests;
``checks/`` the static checks of the deployment files; ``containers/``, ``compose/``, ``prometheus/`` and ``kafka/``
the files they use. ``cli.py`` is ``./payung``'s entry point; ``lock.py`` makes the hashed lock files every one of
them installs from.
"""

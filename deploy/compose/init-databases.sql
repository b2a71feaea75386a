-- One database per service (docker-compose). The native stack creates the same ones in deploy/native/postgres.py.
CREATE DATABASE nomination;
CREATE DATABASE verification;
CREATE DATABASE enrolment;
CREATE DATABASE notification;
CREATE DATABASE reporting;

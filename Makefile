# genai.stack — the two commands: `make deploy` and `make test`.
.PHONY: deploy test venv lint unit build cluster cluster-down integration molecule seeds awx kind minikube images sanity

deploy:
	@scripts/deploy.sh

test:
	@scripts/test.sh

venv:
	@scripts/venv.sh

lint sanity unit build integration molecule seeds awx kind minikube: venv
	@GENAI_TEST_STEPS=$@ scripts/test.sh

cluster: venv
	@GENAI_TEST_STEPS=cluster scripts/test.sh

cluster-down:
	@tests/cluster/cluster down

images:
	@tests/images/images import

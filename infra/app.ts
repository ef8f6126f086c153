import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ContextError, settingsFromContext, stackName } from './context.js';
import { NodeDrainerStack } from './node-drainer-stack.js';

const app = new App();
try {
  const settings = settingsFromContext((key) => app.node.tryGetContext(key));
  new NodeDrainerStack(app, stackName(settings.clusterName), { settings });
} catch (error) {
  if (!(error instanceof ContextError)) throw error;
  console.error(error.message);
  process.exit(1);
}
// synth fails on any unacknowledged finding
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();

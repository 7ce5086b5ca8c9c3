/** Pure builders of a lab's children: from a StudyLab to the server-side apply intents of its Deployment, Service, NetworkPolicy and claim. */
export { buildDeployment, CONTAINER_NAME, DATA_VOLUME_NAME } from './deployment.js';
export {
  buildService,
  servicePortsOf,
  serviceReplacementReason,
  serviceTypeNeedsPorts,
  serviceTypeOf,
} from './service.js';
export { buildNetworkPolicy } from './network-policy.js';
export {
  buildPersistentVolumeClaim,
  StorageRefusalReason,
  type ClaimPlan,
  type StorageRefusal,
} from './pvc.js';
export { BuilderInputError, ownerReferenceFor, type LabIdentity } from './metadata.js';
export { compareQuantities, parseQuantity, QuantityError, type ParsedQuantity } from './quantity.js';
